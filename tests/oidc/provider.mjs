// A real OpenID provider for tests/oidc.rs: oidc-provider (a certified
// OpenID Connect implementation) on loopback, with a fixed configuration.
//
//   node tests/oidc/provider.mjs PORT
//
// Issuer http://127.0.0.1:PORT (http is what eventward accepts on loopback).
// Its RSA signing key is generated at every start, so a restart is a key
// rotation. Access tokens come from the client credentials grant with a
// resource indicator (RFC 8707), as JWTs (RFC 9068: typ at+jwt, aud = the
// resource). Clients (secret: the client id + "-secret"):
//   billing   tokens carry sub = client_id = "billing", as oidc-provider does;
//   machine   tokens carry no sub, only client_id (as some providers' machine
//             tokens do), to test a provider's principal claim;
//   webapp    the authorization code grant, for ID tokens (aud = "webapp",
//             sub = the signed-in account), redirect URI http://127.0.0.1/cb.
//             The sign-in and consent screens are answered by this script
//             itself (account "alice", every asked scope granted), through
//             oidc-provider's own interaction API, so a test can walk the
//             whole redirect flow without a browser.
// Resources: https://api.acme.test and https://other.acme.test.
// When listening it prints one JSON line: {"issuer": ...}.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node provider.mjs PORT');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signing = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig' };

const RESOURCES = ['https://api.acme.test', 'https://other.acme.test'];

const client = (id) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_post',
});

const webapp = {
  client_id: 'webapp',
  client_secret: 'webapp-secret',
  application_type: 'native',
  grant_types: ['authorization_code'],
  redirect_uris: ['http://127.0.0.1/cb'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_post',
};

const provider = new Provider(issuer, {
  clients: [client('billing'), client('machine'), webapp],
  cookies: { keys: [randomBytes(32).toString('hex')] },
  jwks: { keys: [signing] },
  scopes: ['events:write'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCES[0],
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        if (!RESOURCES.includes(resource)) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: 'events:write',
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 600,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  formats: {
    customizers: {
      jwt: (ctx, token, jwt) => {
        if (token.clientId === 'machine') {
          delete jwt.payload.sub;
        }
      },
    },
  },
});

// The interaction screens, answered at once: sign in as alice, grant what is asked.
async function interact(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: 'alice' } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) {
      grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    }
    if (missing.missingOIDCClaims) {
      grant.addOIDCClaims(missing.missingOIDCClaims);
    }
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interact(req, res).catch((e) => {
      res.statusCode = 500;
      res.end(String(e));
    });
  } else {
    callback(req, res);
  }
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
server.on('error', (e) => {
  console.error(`cannot listen on ${issuer}: ${e.message}`);
  process.exit(1);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
