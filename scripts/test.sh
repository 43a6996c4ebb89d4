#!/usr/bin/env bash
# The project's test command: bring up PostgreSQL and RabbitMQ on loopback
# (scripts/services.sh), install the language toolchains the code-sample
# tests run when absent (scripts/toolchains.sh), then run every test target.
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh --test api_keys -- --nocapture`.
#
# The tests use EVENTWARD_TEST_DATABASE_URL (they create their own databases
# there) and EVENTWARD_TEST_AMQP_URL; the local services are the default.
# Set EVENTWARD_SKIP_SERVICES=1 to use services of your own instead, and
# EVENTWARD_SKIP_TOOLCHAINS=1 to install nothing (a missing toolchain then
# fails its sample tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${EVENTWARD_SKIP_SERVICES:-0} != 1 ]]; then
    scripts/services.sh
fi
if [[ ${EVENTWARD_SKIP_TOOLCHAINS:-0} != 1 ]]; then
    scripts/toolchains.sh
fi
export EVENTWARD_TEST_DATABASE_URL="${EVENTWARD_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export EVENTWARD_TEST_AMQP_URL="${EVENTWARD_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
# Every target, unless the arguments pick targets themselves (cargo would take
# the union with --all-targets).
targets=(--all-targets)
for arg in "$@"; do
    case $arg in
        --) break ;;
        --lib | --bin* | --example* | --test | --test=* | --tests | --bench* | --all-targets | --doc) targets=() ;;
    esac
done
exec cargo test --locked "${targets[@]}" "$@"
