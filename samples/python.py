# Sends one example event to the eventward notification {{workspace}}/{{notification}} with requests.
# Run: pip install requests && {{env_var}}=... python3 sample.py
# {{credential_note}}
import os
import sys

import requests

URL = "{{url}}"
ENV_VAR = "{{env_var}}"


def main() -> int:
    credential = os.environ.get(ENV_VAR, "")
    if not credential:
        print(f"error: set {ENV_VAR} to {{credential_kind}}", file=sys.stderr)
        return 2

    event = {"example": True, "sent_by": "python sample"}
    try:
        response = requests.post(
            URL,
            json=event,  # also sets Content-Type: application/json
            headers={"Authorization": f"Bearer {credential}"},
            timeout=30,
        )
    except requests.RequestException as exc:
        print(f"error: request to {URL} failed: {exc}", file=sys.stderr)
        return 1

    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = None

    if response.ok and body and body.get("id"):
        print(body["id"])
        return 0
    if body and body.get("code"):
        # application/problem+json: title, status, detail, code
        print(f"{body['code']}: {body.get('detail', '')}", file=sys.stderr)
    else:
        print(f"error: HTTP {response.status_code}: {response.text[:500]}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
