// panva's oidc-provider (an OpenID Certified OpenID Provider, from the npm registry) for tests: one
// provider per tenant, each on its own loopback host so their cookies never mix, as two organisations'
// providers would be. It is given only what any deployment must give it: its clients, its accounts
// and which claims each scope releases. Everything else is the package's defaults, on purpose: its
// development login form (any password) and consent page, and `conformIdTokenClaims`, which puts the
// claims of the `email` and `profile` scopes in the userinfo response only, never in the ID token.
//
// Usage: node provider.mjs '<json>' where json is
//   {"tenants": [{"name", "host", "clients": [{client_id, client_secret, redirect_uris}],
//                 "accounts": {"<login>": {"sub", "email", "email_verified", "name"}}}]}
// Prints one JSON line {"tenant", "issuer"} per tenant, then "ready". Exits when stdin closes, so a
// test run that dies takes its providers with it.
import http from 'node:http';

import Provider from 'oidc-provider';

const spec = JSON.parse(process.argv[2]);

async function start(tenant) {
  const server = http.createServer();
  await new Promise((resolve) => { server.listen(0, tenant.host, resolve); });
  const issuer = `http://${tenant.host}:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: tenant.clients.map((client) => ({
      ...client, grant_types: ['authorization_code'], response_types: ['code'],
    })),
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    async findAccount(ctx, login) {
      const account = tenant.accounts[login];
      if (!account) return undefined;
      return { accountId: login, async claims() { return { ...account }; } };
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ tenant: tenant.name, issuer })}\n`);
}

for (const tenant of spec.tenants) {
  // eslint-disable-next-line no-await-in-loop
  await start(tenant);
}
process.stdout.write('ready\n');
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
