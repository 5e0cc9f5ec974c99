// oidc-provider as a peer in the benchmark: one confidential client that
// obtains opaque access tokens with the client_credentials grant and
// introspects them.
//
// Environment: PORT, CLIENT_ID, CLIENT_SECRET. Prints one line
// "listening on http://127.0.0.1:PORT" on stdout once the port accepts
// connections, and nothing per request.
//
// NOTE: oidc-provider 9.13.3 warns at start that it expects Node.js 22 LTS
// or later. On Node.js 20.20 the client_credentials grant and introspection
// work, and no other flow of it is used here.

import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
}

const port = Number.parseInt(required('PORT'), 10);
const clientId = required('CLIENT_ID');
const clientSecret = required('CLIENT_SECRET');
const issuer = `http://127.0.0.1:${port}`;

// Keys made at start replace the development keys that oidc-provider falls
// back to. No token in this setup is signed with them, because access tokens
// are opaque and no ID token is issued, but the provider requires an RS256
// key for its default ID token algorithm.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwks = { keys: [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256' }] };

const provider = new Provider(issuer, {
  // No adapter is configured, so the provider keeps its state in its
  // default in-memory adapter. That adapter is an LRU of 1000 entries, so
  // heavy token issuance evicts older tokens, including one that another
  // load run introspects.
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api',
    },
  ],
  scopes: ['api'],
  // An hour outlasts a whole benchmark run, so no introspected token
  // expires during one. Setting it also silences the notice that the
  // provider prints on stdout when it calls its default.
  ttl: { ClientCredentials: 3600 },
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
    },
  },
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});
server.on('error', (error) => {
  console.error(`listening on ${issuer} failed: ${error.message}`);
  process.exit(1);
});
