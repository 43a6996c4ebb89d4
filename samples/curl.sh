#!/usr/bin/env bash
# Sends one example event to the eventward notification {{workspace}}/{{notification}} with curl.
# Run: {{env_var}}=... bash sample.sh   (bash, curl 7.55+, sed)
# {{credential_note}}
set -euo pipefail

url='{{url}}'
credential="${{{env_var}}:-}"
if [ -z "$credential" ]; then
  echo "error: set {{env_var}} to {{credential_kind}}" >&2
  exit 2
fi

body_file="$(mktemp)"
trap 'rm -f "$body_file"' EXIT

# The Authorization header is read from stdin (-H @-) so the credential never
# shows up in the process list.
if ! status="$(printf 'Authorization: Bearer %s\n' "$credential" |
  curl -sS --max-time 30 "$url" \
    -H @- \
    -H 'Content-Type: application/json' \
    --data-binary '{"example": true, "sent_by": "curl sample"}' \
    -o "$body_file" -w '%{http_code}')"; then
  echo "error: request to $url failed" >&2
  exit 1
fi

# Prints the value of a top-level string field of the JSON response.
json_field() {
  sed -nE 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*"(([^"\\]|\\.)*)".*/\1/p' "$body_file" |
    head -n 1 | sed -e 's/\\"/"/g' -e 's/\\\//\//g' -e 's/\\\\/\\/g'
}

if [[ "$status" == 2?? ]]; then
  id="$(json_field id)"
  if [ -n "$id" ]; then
    echo "$id"
    exit 0
  fi
fi

code="$(json_field code)"
if [ -n "$code" ]; then
  echo "$code: $(json_field detail)" >&2
else
  echo "error: HTTP $status: $(head -c 500 "$body_file")" >&2
fi
exit 1
