#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ run on loopback for eventward's tests and demo:
#   PostgreSQL  127.0.0.1:5432, role "postgres" reachable without a password
#   RabbitMQ    127.0.0.1:5672, guest/guest
#   faketime    on PATH (the tests run the CLI with a clock that is ahead)
# Idempotent: when both already answer it only checks them (well under a second).
# On a Debian/Ubuntu machine without them it installs them with apt-get, creates a
# cluster, and configures them for local development (printing every change).
# It never loosens the authentication of a PostgreSQL it did not set up itself.
# Works without systemd (containers, CI): services are started directly.
#
# Environment:
#   EVENTWARD_SERVICES_TIMEOUT  seconds to wait for each service to come up (default 120)
set -euo pipefail

HOST=127.0.0.1
PG_PORT=5432
AMQP_PORT=5672
TIMEOUT=${EVENTWARD_SERVICES_TIMEOUT:-120}
MARK="added by eventward scripts/services.sh"

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

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

# --- probes ------------------------------------------------------------------

pg_ready() {
    have pg_isready && pg_isready -q -h "$HOST" -p "$PG_PORT" -t 2
}

# Can the tests' role log in? (server up AND authentication/role OK)
pg_login_ok() {
    PGCONNECT_TIMEOUT=3 psql -X -q -w -h "$HOST" -p "$PG_PORT" -U postgres -d postgres \
        -Atc 'select 1' >/dev/null 2>&1
}

# RabbitMQ answers the AMQP 0-9-1 protocol header with a Connection.Start
# frame, whose first byte (frame type METHOD) is 0x01. Stronger than a TCP
# connect: the listener only opens once the broker has booted.
amqp_ready() {
    # shellcheck disable=SC2016 # expanded by the inner shell
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/$0/$1" || exit 1
        printf "AMQP\000\000\011\001" >&3
        IFS= read -r -n 1 -d "" b <&3 || exit 1
        [[ $b == "$2" ]]
    ' "$HOST" "$AMQP_PORT" $'\001' 2>/dev/null
}

# Wait until READY succeeds. Whenever the service's process is gone, start it:
# a process that is there may be booting, or still shutting down after a stop
# (rabbitmqctl stop returns before the VM has exited). At most two starts.
bring_up() { # NAME READY RUNNING START HINT
    local name=$1 ready=$2 running=$3 start=$4 hint=$5
    local deadline=$((SECONDS + TIMEOUT)) note=$((SECONDS + 10)) starts=0 last_start=-1000 said=0
    until "$ready"; do
        if ! "$running" && ((SECONDS - last_start >= 15)); then
            ((starts < 2)) || die "$name stopped again after being started; $hint"
            log "starting $name"
            "$start" >&2 || die "could not start $name; $hint"
            starts=$((starts + 1))
            last_start=$SECONDS
            continue
        fi
        if ((starts == 0 && !said)); then
            log "$name is running but not ready (starting up or shutting down); waiting"
            said=1
        fi
        ((SECONDS < deadline)) || die "$name is not ready after ${TIMEOUT}s; $hint"
        if ((SECONDS >= note)); then
            log "still waiting for $name"
            note=$((SECONDS + 10))
        fi
        sleep 1
    done
}

# Tools the tests run besides the services (a test whose tool is missing
# fails): faketime runs the CLI with a clock that is ahead.
tools_missing=()
if ! have faketime; then
    tools_missing+=(faketime)
fi

# Fast path: nothing to do.
if ((${#tools_missing[@]} == 0)) && pg_login_ok && amqp_ready; then
    log "PostgreSQL ($HOST:$PG_PORT) and RabbitMQ ($HOST:$AMQP_PORT) are up"
    exit 0
fi

# --- installation ------------------------------------------------------------

POLICY=/usr/sbin/policy-rc.d
POLICY_CREATED=0
cleanup() {
    if ((POLICY_CREATED)); then
        as_root rm -f "$POLICY"
    fi
}
trap cleanup EXIT

apt_install() { # PACKAGE...
    have apt-get || die "$* not installed and no apt-get here: install $* yourself"
    log "installing $* (apt-get)"
    # Keep package scripts from starting services (no init system here, or a
    # systemd that is not ours to drive); this script starts them itself.
    if [[ ! -e $POLICY ]]; then
        printf '#!/bin/sh\n# %s (temporary)\nexit 101\n' "$MARK" | as_root tee "$POLICY" >/dev/null
        as_root chmod 755 "$POLICY"
        POLICY_CREATED=1
    fi
    local aptlog
    aptlog=$(mktemp -t eventward-apt.XXXXXX)
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=300 >"$aptlog" 2>&1 ||
        log "warning: apt-get update failed; trying the package lists already here"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "$@" >>"$aptlog" 2>&1; then
        tail -n 30 "$aptlog" >&2
        die "apt-get install $* failed (full log: $aptlog)"
    fi
    rm -f "$aptlog"
    if ((POLICY_CREATED)); then
        as_root rm -f "$POLICY"
        POLICY_CREATED=0
    fi
}

PG_INSTALLED=0
RABBIT_INSTALLED=0
missing=()
if ! have pg_ctlcluster || ! have psql || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    missing+=(postgresql postgresql-client)
    PG_INSTALLED=1
fi
if ! have rabbitmq-server; then
    missing+=(rabbitmq-server)
    RABBIT_INSTALLED=1
fi
missing+=("${tools_missing[@]}")
if ((${#missing[@]})); then
    apt_install "${missing[@]}"
fi

# --- PostgreSQL ----------------------------------------------------------------

# The cluster that serves $PG_PORT: "VERSION NAME" (pg_lsclusters columns).
pg_cluster() {
    pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2; exit }'
}

# Put trust lines for loopback TCP at the top of pg_hba.conf (first match wins).
pg_trust_loopback() { # VERSION NAME
    local hba
    hba=$(as_root pg_conftool -s "$1" "$2" show hba_file 2>/dev/null || true)
    hba=${hba:-/etc/postgresql/$1/$2/pg_hba.conf}
    if as_root grep -q "$MARK" "$hba"; then
        return
    fi
    as_root cp -p "$hba" "$hba.eventward.bak"
    {
        printf '# %s: local development/test only\n' "$MARK"
        printf 'host    all    all    127.0.0.1/32    trust\n'
        printf 'host    all    all    ::1/128         trust\n'
        as_root cat "$hba"
    } | as_root tee "$hba.eventward.new" >/dev/null
    as_root chown --reference="$hba" "$hba.eventward.new"
    as_root chmod --reference="$hba" "$hba.eventward.new"
    as_root mv "$hba.eventward.new" "$hba"
    log "changed $hba: loopback TCP connections (127.0.0.1, ::1) now use 'trust' (backup: $hba.eventward.bak)"
}

pg_cluster_running() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$pg_version" -v n="$pg_name" '$1 == v && $2 == n && $4 ~ /^online/ { found = 1 } END { exit !found }'
}
pg_cluster_start() {
    as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_name" start
}

if ! pg_login_ok; then
    PG_CONFIGURED=$PG_INSTALLED
    cluster=$(pg_cluster)
    if [[ -z $cluster ]]; then
        if [[ -n $(pg_lsclusters -h 2>/dev/null) ]]; then
            die "PostgreSQL clusters exist, but none on port $PG_PORT (see pg_lsclusters); start one there, or set EVENTWARD_SKIP_SERVICES=1 and EVENTWARD_TEST_DATABASE_URL for scripts/test.sh"
        fi
        version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | tail -n 1)
        [[ -n $version ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
        log "creating PostgreSQL $version cluster 'main' on $HOST:$PG_PORT"
        # Debian's default listen_addresses is 'localhost': loopback only.
        as_root pg_createcluster "$version" main --port "$PG_PORT" >&2 ||
            die "pg_createcluster $version main failed"
        cluster="$version main"
        PG_CONFIGURED=1
    fi
    read -r pg_version pg_name <<<"$cluster"
    if ((PG_CONFIGURED)); then
        pg_trust_loopback "$pg_version" "$pg_name"
    fi
    if ((PG_CONFIGURED)) && pg_cluster_running; then
        as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_name" reload >&2 ||
            die "could not reload PostgreSQL $pg_version/$pg_name"
    fi
    bring_up "PostgreSQL $pg_version/$pg_name" pg_ready pg_cluster_running pg_cluster_start \
        "see /var/log/postgresql/postgresql-$pg_version-$pg_name.log"
    if ! pg_login_ok; then
        err=$(PGCONNECT_TIMEOUT=3 psql -X -w -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -Atc 'select 1' 2>&1 >/dev/null || true)
        die "PostgreSQL is up, but role 'postgres' cannot log in over TCP without a password:
    $err
  This installation was not set up by this script, so its authentication is left alone.
  For a development machine, put these lines at the top of the cluster's pg_hba.conf and reload:
    host all all 127.0.0.1/32 trust
    host all all ::1/128      trust
  or run the tests against a database of your own:
    EVENTWARD_SKIP_SERVICES=1 EVENTWARD_TEST_DATABASE_URL=postgres://USER:PASSWORD@HOST/DB scripts/test.sh"
    fi
    log "PostgreSQL is up on $HOST:$PG_PORT"
fi

# --- RabbitMQ --------------------------------------------------------------------

# A broker installed here: node name and listeners on loopback only. Without a
# fixed node name RabbitMQ uses the host name, which fails to resolve in many
# containers. Written before its first start, so nothing is lost.
rabbit_configure_loopback() {
    local env_conf=/etc/rabbitmq/rabbitmq-env.conf conf=/etc/rabbitmq/rabbitmq.conf
    as_root mkdir -p /etc/rabbitmq
    if ! as_root grep -qs "$MARK" "$env_conf"; then
        printf '# %s: loopback only\nNODENAME=rabbit@localhost\nERL_EPMD_ADDRESS=127.0.0.1\nexport ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"\n' "$MARK" |
            as_root tee -a "$env_conf" >/dev/null
        log "changed $env_conf: NODENAME=rabbit@localhost, epmd and distribution on 127.0.0.1"
    fi
    if ! as_root grep -qs "$MARK" "$conf"; then
        printf '# %s: loopback only\nlisteners.tcp.local = 127.0.0.1:%s\n' "$MARK" "$AMQP_PORT" |
            as_root tee -a "$conf" >/dev/null
        log "changed $conf: AMQP listener on 127.0.0.1:$AMQP_PORT only"
    fi
}

rabbit_start() {
    as_root rabbitmq-server -detached
}

rabbit_running() {
    pgrep -u rabbitmq -x beam.smp >/dev/null 2>&1
}

if ! amqp_ready; then
    if ((RABBIT_INSTALLED)); then
        rabbit_configure_loopback
    fi
    bring_up RabbitMQ amqp_ready rabbit_running rabbit_start \
        "see /var/log/rabbitmq/ (startup_err, rabbit@*.log)"
    log "RabbitMQ is up on $HOST:$AMQP_PORT"
fi
