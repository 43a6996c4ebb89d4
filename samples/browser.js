// Sends an event to the eventward notification {{workspace}}/{{notification}} from a browser app (React, Vue, Angular, ...).
// No env var in a browser: the token is the signed-in user's access token from your auth client, e.g. Auth0's getAccessTokenSilently().
// The app's origin must be allowed: eventward notification secure {{workspace}}/{{notification}} --jwt-provider NAME --allowed-origin ORIGIN
const EVENTWARD_URL = "{{url}}";

export async function sendEvent(token, data) {
  const response = await fetch(EVENTWARD_URL, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Authorization: `Bearer ${token}`,
    },
    body: JSON.stringify(data),
  });
  const body = await response.json().catch(() => null);
  if (response.ok && body && body.id) {
    return body.id; // 202 {"id", "status": "accepted"}
  }
  // Refusals are application/problem+json: title, status, detail, code.
  const message = body && body.code ? `${body.code}: ${body.detail}` : `HTTP ${response.status}`;
  const error = new Error(`eventward refused the event: ${message}`);
  error.status = response.status;
  error.code = body ? body.code : undefined;
  throw error;
}

// Usage, e.g. in a React component with @auth0/auth0-react:
//   const { getAccessTokenSilently } = useAuth0();
//   const token = await getAccessTokenSilently();
//   const id = await sendEvent(token, { example: true, sent_by: "browser sample" });
