#!/usr/bin/env bash
# Make sure every language toolchain the code-sample tests (tests/samples/)
# and the tools tests/metrics.rs run are here, installing what is absent from
# the Debian packages:
#   curl + bash   curl                      (the curl sample)
#   the linter    shellcheck                (checks the curl sample)
#   python3       python3 + requests        (the python3 first on PATH must import requests)
#   node          nodejs                    (Node.js 18+: global fetch; also runs the browser sample)
#   java, javac   default-jdk-headless      (Java 11+: the single-file source launcher)
#   go, gofmt     golang-go
#   ruby          ruby
#   php           php-cli, php-curl
#   mcs, mono     mono-devel                (the C# sample, compiled with Mono's compiler)
#   promtool      prometheus                (tests/metrics.rs: promtool check metrics,
#   prometheus                               and a real server scraping the daemon)
#   npm           npm                       (installs tests/oidc: the OpenID provider tests/oidc.rs runs)
#   chromium      chromium                  (tests/console.rs drives it with playwright-core)
# Then `npm ci` in tests/oidc (oidc-provider) and in tests/console
# (playwright-core), each pinned by its package-lock.json, skipped when
# node_modules already holds that exact lock file.
# and what tests/package.rs needs: lintian, systemd-analyze (systemd), and
# cargo-deb (from crates.io: cargo install cargo-deb --locked).
# And schemathesis (PyPI, pinned) for tests/admin_openapi.rs, in a venv of its
# own at $EVENTWARD_SCHEMATHESIS_VENV (default ~/.cache/eventward/schemathesis),
# created only when absent or not the pinned version (python3-venv for Debian's python3).
# Idempotent: when everything is present it only checks (well under a second);
# `apt-get update` runs once, and only when something is missing. A python3
# that is not Debian's own (pyenv, a venv) gets requests from pip instead.
set -euo pipefail

log() { printf 'toolchains: %s\n' "$*" >&2; }
die() { printf 'toolchains: error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
quiet() { "$@" >/dev/null 2>&1 </dev/null; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    if have sudo; then SUDO=(sudo); fi
fi
as_root() {
    if [[ $(id -u) -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
        die "need root (or sudo) to run: $*"
    fi
    "${SUDO[@]}" "$@"
}

# The Debian packages whose programs are absent.
missing_packages() {
    have curl || echo curl
    have shellcheck || echo shellcheck
    if ! have python3; then
        echo python3 python3-requests
    elif [[ $(command -v python3) == /usr/bin/python3 ]] && ! quiet python3 -c 'import requests'; then
        echo python3-requests
    fi
    have node || echo nodejs
    have npm || echo npm
    { have java && have javac; } || echo default-jdk-headless
    { have go && have gofmt; } || echo golang-go
    have ruby || echo ruby
    have php || echo php-cli
    if ! have php || ! quiet php -r 'exit(function_exists("curl_init") ? 0 : 1);'; then
        echo php-curl
    fi
    { have mcs && have mono; } || echo mono-devel
    { have promtool && have prometheus; } || echo prometheus
    if [[ $(command -v python3 || true) == /usr/bin/python3 ]] && ! quiet python3 -c 'import ensurepip'; then
        echo python3-venv
    fi
    have lintian || echo lintian
    have systemd-analyze || echo systemd
    [[ -x /usr/bin/chromium ]] || echo chromium
}

read -r -a missing <<<"$(missing_packages | tr '\n' ' ')"
if ((${#missing[@]})); then
    have apt-get || die "missing: ${missing[*]}; no apt-get here: install them yourself"
    log "installing ${missing[*]} (apt-get)"
    aptlog=$(mktemp -t eventward-apt.XXXXXX)
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=300 >"$aptlog" 2>&1 ||
        log "warning: apt-get update failed; trying the package lists already here"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
        --no-install-recommends "${missing[@]}" >>"$aptlog" 2>&1; then
        tail -n 30 "$aptlog" >&2
        die "apt-get install ${missing[*]} failed (full log: $aptlog)"
    fi
    rm -f "$aptlog"
    hash -r
    # What is still absent after installing is an error here, not a surprise in the tests.
    still=$(missing_packages | tr '\n' ' ')
    [[ -z ${still// /} ]] || die "still missing after installing: $still"
fi

if ! have cargo-deb; then
    log "installing cargo-deb (cargo install)"
    cargo install cargo-deb --locked >&2 || die "cargo install cargo-deb --locked failed"
fi

# A python3 of its own (pyenv, venv) does not see Debian's python3-requests.
if ! quiet python3 -c 'import requests'; then
    log "installing requests for $(command -v python3) (pip)"
    python3 -m pip install -q --disable-pip-version-check requests >&2 ||
        die "could not install requests for $(command -v python3): run python3 -m pip install requests"
    quiet python3 -c 'import requests' || die "python3 ($(command -v python3)) cannot import requests"
fi

# The Node.js packages of tests/oidc (the OpenID provider tests/oidc.rs runs)
# and tests/console (playwright-core, which tests/console.rs runs against
# Debian's chromium). The stamp is the lock file's hash, written only after a
# complete `npm ci`, so a changed lock file or an interrupted install
# reinstalls.
npm_ci() {
    local dir stamp lock
    dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/$1" && pwd)
    stamp=$dir/node_modules/.eventward-lock.sha256
    lock=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [[ ! -f $stamp || $(cat "$stamp") != "$lock" ]]; then
        log "installing $2 (npm ci in tests/$1)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
            die "npm ci in $dir failed"
        printf '%s\n' "$lock" >"$stamp"
    fi
}
npm_ci oidc "the test OpenID provider"
npm_ci console "playwright-core for the console's browser test"

# schemathesis for tests/admin_openapi.rs (the admin API against its OpenAPI document).
schemathesis_version=4.32.5
st_venv=${EVENTWARD_SCHEMATHESIS_VENV:-$HOME/.cache/eventward/schemathesis}
if ! quiet "$st_venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$schemathesis_version')"; then
    log "installing schemathesis $schemathesis_version into $st_venv (pip)"
    rm -rf "$st_venv"
    python3 -m venv "$st_venv" || die "python3 -m venv $st_venv failed"
    "$st_venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$schemathesis_version" >&2 ||
        die "pip install schemathesis==$schemathesis_version failed"
fi
