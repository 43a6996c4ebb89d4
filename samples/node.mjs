// Sends one example event to the eventward notification {{workspace}}/{{notification}} with fetch.
// Run: {{env_var}}=... node sample.mjs   (Node.js 18+, no packages; also runs as a .js/.cjs file)
// {{credential_note}}
const ENDPOINT = "{{url}}";
const ENV_VAR = "{{env_var}}";

async function main() {
  const credential = process.env[ENV_VAR];
  if (!credential) {
    console.error(`error: set ${ENV_VAR} to {{credential_kind}}`);
    return 2;
  }

  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Authorization: `Bearer ${credential}`,
      },
      body: JSON.stringify({ example: true, sent_by: "node sample" }),
      signal: AbortSignal.timeout(30000),
    });
  } catch (err) {
    console.error(`error: request to ${ENDPOINT} failed: ${err.cause ? err.cause.message : err.message}`);
    return 1;
  }

  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: reported below with the status
  }
  if (body === null || typeof body !== "object") body = null;

  if (response.ok && body && body.id) {
    console.log(body.id);
    return 0;
  }
  if (body && body.code) {
    // application/problem+json: title, status, detail, code
    console.error(`${body.code}: ${body.detail ?? ""}`);
  } else {
    console.error(`error: HTTP ${response.status}: ${text.slice(0, 500)}`);
  }
  return 1;
}

main().then((code) => {
  process.exitCode = code;
});
