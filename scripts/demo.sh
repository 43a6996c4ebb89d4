#!/usr/bin/env bash
# Run eventward locally, ready to take an event:
#   - PostgreSQL and RabbitMQ on loopback (scripts/services.sh)
#   - a release build, a demo config in target/demo/eventward.toml and its
#     database eventward_demo
#   - workspace "demo", notification "demo/hello", secured by API key "demo"
#     (created, or rolled on a re-run: the secret is only ever shown once)
# then prints how to send an event and read it from RabbitMQ, and runs
# `eventward serve` in the foreground (Ctrl-C stops it). Safe to re-run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'demo: %s\n' "$*" >&2; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

DIR=target/demo
CONFIG=$DIR/eventward.toml
BIN=target/release/eventward
DB=eventward_demo
LISTEN_HOST=127.0.0.1
LISTEN_PORT=8080
BASE=http://$LISTEN_HOST:$LISTEN_PORT
QUEUE=eventward.events.all

scripts/services.sh

overrides=$(compgen -e | grep -E '^EVENTWARD_[A-Z_]+__' || true)
if [[ -n $overrides ]]; then
    log "warning: these variables override $CONFIG: $(echo "$overrides" | tr '\n' ' ')"
fi

if (exec 3<>"/dev/tcp/$LISTEN_HOST/$LISTEN_PORT") 2>/dev/null; then
    die "something already listens on $LISTEN_HOST:$LISTEN_PORT (an earlier demo still running?); stop it first"
fi

log "building (cargo build --release --locked)"
cargo build --release --locked

mkdir -p "$DIR"
cat >"$CONFIG" <<EOF
# eventward demo configuration, written by scripts/demo.sh (rewritten on each run)
[http]
listen = "$LISTEN_HOST:$LISTEN_PORT"
public_url = "$BASE"

[database]
url = "postgres://postgres@127.0.0.1:5432/$DB"

[amqp]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
exchange = "eventward.events"
default_queue = "$QUEUE"
EOF
log "wrote $CONFIG"

ew() { "$BIN" --config "$CONFIG" "$@"; }

if [[ $(psql -X -h 127.0.0.1 -U postgres -d postgres -Atc "select 1 from pg_database where datname = '$DB'") != 1 ]]; then
    createdb -h 127.0.0.1 -U postgres "$DB"
    log "created database $DB"
fi
ew migrate >&2

# Run a create command; an object that already exists (a re-run) is fine.
ensure() { # WHAT ARGS...
    local what=$1 out
    shift
    if out=$(ew "$@" 2>&1); then
        log "created $what"
    elif grep -q 'already exists' <<<"$out"; then
        log "$what already exists"
    else
        printf '%s\n' "$out" >&2
        die "eventward $* failed"
    fi
}
ensure "workspace demo" workspace create demo --name Demo
ensure "notification demo/hello" notification create demo/hello --name Hello

# The API key: created on the first run; on a re-run its secret is gone for
# good, so roll it (the old key keeps working for one more minute).
errfile=$(mktemp)
trap 'rm -f "$errfile"' EXIT
if issued=$(ew --json key create --name demo 2>"$errfile"); then
    log "created API key demo"
elif grep -q 'already exists' "$errfile"; then
    issued=$(ew --json key roll demo --grace 1m 2>"$errfile") || {
        cat "$errfile" >&2
        die "could not roll API key demo"
    }
    log "rolled API key demo (the previous one stops working in 1 minute)"
else
    cat "$errfile" >&2
    die "could not create API key demo"
fi
KEY=$(grep -o '"key": *"evw_[0-9A-Za-z]*"' <<<"$issued" | grep -o 'evw_[0-9A-Za-z]*') ||
    die "no key in the output of eventward key create/roll: $issued"
(umask 077 && printf '%s\n' "$KEY" >"$DIR/api-key")

# Secure demo/hello with the key, unless it already is: after a roll it accepts
# the new key by itself, and securing it again would drop the old key at once
# instead of at the end of its grace period.
shown=$(ew --json notification show demo/hello | tr -d ' \t\n')
if [[ $shown == *'"security":"api_key"'* && $shown =~ \"api_keys\":\[(\"demo\",?)+\] ]]; then
    log "demo/hello already accepts API key demo"
else
    ew notification secure demo/hello --api-key demo >/dev/null
    log "demo/hello now accepts API key demo"
fi

# rabbitmqadmin talks to the management plugin's HTTP API (127.0.0.1:15672).
READ_CMD=()
if command -v rabbitmqadmin >/dev/null 2>&1; then
    if ! curl -fsS -o /dev/null -m 3 -u guest:guest http://127.0.0.1:15672/api/overview 2>/dev/null; then
        if [[ $(id -u) -eq 0 ]] && command -v rabbitmq-plugins >/dev/null 2>&1; then
            log "enabling the RabbitMQ management plugin for rabbitmqadmin (rabbitmq-plugins enable rabbitmq_management)"
            rabbitmq-plugins -q enable rabbitmq_management >&2 || log "warning: could not enable rabbitmq_management"
            for _ in $(seq 1 60); do
                curl -fsS -o /dev/null -m 3 -u guest:guest http://127.0.0.1:15672/api/overview 2>/dev/null && break
                sleep 1
            done
        fi
    fi
    if curl -fsS -o /dev/null -m 3 -u guest:guest http://127.0.0.1:15672/api/overview 2>/dev/null; then
        READ_CMD=(rabbitmqadmin -f pretty_json get "queue=$QUEUE" ackmode=ack_requeue_false count=10)
    else
        log "warning: the RabbitMQ management API does not answer on 127.0.0.1:15672; rabbitmqadmin will not work"
    fi
fi

cat <<EOF

eventward demo: $BASE, notification demo/hello, secured by API key "demo".
In another terminal:

  # send an event (the key is also in $DIR/api-key)
  export EVENTWARD_API_KEY=$KEY
  curl -sS -X POST $BASE/v1/events/demo/hello -H "Authorization: Bearer \$EVENTWARD_API_KEY" -H 'Content-Type: application/json' -d '{"hello":"world"}'

  # read what was published (queue $QUEUE, bound to every event)
EOF
if ((${#READ_CMD[@]})); then
    printf '  %s\n' "${READ_CMD[*]}"
fi
if [[ -f examples/consume.rs ]]; then
    printf '  cargo run --release --example consume    # prints each event as it arrives\n'
fi
# A one-time sign-in link for the web console (valid 10 minutes, used once).
CONSOLE_LINK=$("$BIN" --config "$CONFIG" console-link | grep -Eo 'https?://[^ ]+/console/link/[^ ]+')
cat <<EOF

  # code samples for other languages
  $BIN --config $CONFIG samples demo/hello

The web console (the product page's flow in a browser): open this one-time
sign-in link within 10 minutes (later: $BIN --config $CONFIG console-link)

  $CONSOLE_LINK

Starting eventward serve (Ctrl-C stops it) ...

EOF

exec "$BIN" --config "$CONFIG" serve
