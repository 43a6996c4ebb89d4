#!/usr/bin/env bash
# Builds the Debian package target/debian/eventward_<version>-1_<arch>.deb:
#   1. the eventward binary (cargo build, release profile unless --profile);
#   2. target/assets/: man pages, shell completions and the packaged unit,
#      generated from the code by examples/gen_assets.rs;
#   3. `cargo deb --no-build` with what [package.metadata.deb] in Cargo.toml
#      lists.
# Usage: packaging/build-deb.sh [--profile PROFILE] [other cargo-deb options]
# Needs cargo-deb (cargo install cargo-deb --locked). Prints the .deb's path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

profile=release
args=()
while (($#)); do
    case $1 in
        --profile) profile=$2; shift 2 ;;
        --profile=*) profile=${1#--profile=}; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

command -v cargo-deb >/dev/null 2>&1 || {
    echo "build-deb: cargo-deb is missing: cargo install cargo-deb --locked" >&2
    exit 1
}
cargo build --locked --profile "$profile" --bin eventward >&2
cargo run --locked --quiet --profile "$profile" --example gen_assets -- target/assets >&2
# cargo-deb warns that the dev profile is unsupported (it is meant for
# releases); the package test uses it all the same, to package the binary the
# test build has already made rather than build everything again optimized.
cargo deb --locked --no-build --profile "$profile" "${args[@]}"
