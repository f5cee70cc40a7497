// Development OpenID Connect provider for the demo and the test suite — never for production.
//
// It is panva's OpenID-certified oidc-provider with a JSON configuration (static clients, static
// accounts with their ministry claims) and our own minimal French login page. Usage:
//
//     node server.mjs config.json        (or DEVIDP_CONFIG=config.json node server.mjs)
//
// Prints exactly one line, "ready <issuer>", on stdout once it accepts connections.
// Configuration fields are documented in README.md next to this file.

import { generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import { CompactSign, decodeJwt, decodeProtectedHeader, importJWK } from 'jose';
import Provider from 'oidc-provider';

const configPath = process.argv[2] || process.env.DEVIDP_CONFIG;
if (!configPath) {
  console.error('usage: node server.mjs <config.json> (or set DEVIDP_CONFIG)');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const port = Number(config.port);
const issuer = config.issuer || `http://127.0.0.1:${port}`;
const hostile = config.hostile || {};

// ---------------------------------------------------------------------------------------------
// Accounts

const accountsByLogin = new Map();
const accountsBySub = new Map();
for (const account of config.accounts || []) {
  const entry = { ...account, sub: account.sub || account.login };
  accountsByLogin.set(entry.login.toLowerCase(), entry);
  accountsBySub.set(entry.sub, entry);
}

function sameSecret(given, expected) {
  const a = Buffer.from(String(given));
  const b = Buffer.from(String(expected));
  return a.length === b.length && timingSafeEqual(a, b);
}

function checkPassword(login, password) {
  const account = accountsByLogin.get(String(login || '').trim().toLowerCase());
  // Compare anyway when the login is unknown so both failures take the same path.
  const ok = sameSecret(password || '', account ? account.password : randomUUID());
  return ok && account ? account : undefined;
}

// ---------------------------------------------------------------------------------------------
// Clients

// Clients flagged allow_any_loopback_redirect accept any http://127.0.0.1 or localhost redirect:
// the test suite's portal listens on a port chosen at run time. Dev relaxation, opt-in per client.
const loopbackClients = new Set();
const clients = (config.clients || []).map((client) => {
  let redirectUris = client.redirect_uris || [];
  if (client.allow_any_loopback_redirect) {
    loopbackClients.add(client.client_id);
    // The library insists on at least one registered redirect URI.
    if (!redirectUris.length) redirectUris = ['http://127.0.0.1/'];
  }
  return {
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: redirectUris,
    post_logout_redirect_uris: client.post_logout_redirect_uris || [],
    token_endpoint_auth_method: client.token_endpoint_auth_method || 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    ...(client.client_name ? { client_name: client.client_name } : {}),
  };
});

function isLoopbackHttp(value) {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && ['127.0.0.1', 'localhost'].includes(url.hostname);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Keys

function newSigningJwk() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ format: 'jwk' });
}

const kid = randomUUID();
const signingKey = config.signing_key || { ...newSigningJwk(), kid, alg: 'RS256', use: 'sig' };

// publish_wrong_keys: /jwks serves another key under the same kid and alg, so a relying party
// finds "the" key and must fail on the signature itself, not on a missing kid.
let wrongJwks;
if (hostile.publish_wrong_keys) {
  const { kty, n, e } = hostile.wrong_key || newSigningJwk();
  wrongJwks = JSON.stringify({ keys: [{ kty, n, e, kid: signingKey.kid, alg: 'RS256', use: 'sig' }] });
}

// tamper_id_token: the token endpoint's id_token is rewritten, then signed again with the real
// key, so only the changed claims are wrong: {"aud": "someone-else"} (another client's token),
// {"exp_offset": -3600} (expired an hour ago, iat moved before it), any other claim overridden.
const tamperIdToken = hostile.tamper_id_token || null;

async function tamperedIdToken(idToken) {
  const { exp_offset: expOffset, ...overrides } = tamperIdToken;
  const claims = { ...decodeJwt(idToken), ...overrides };
  if (expOffset !== undefined) {
    claims.exp = Math.floor(Date.now() / 1000) + Number(expOffset);
    claims.iat = Math.min(claims.iat, claims.exp - 60);
  }
  const key = await importJWK(signingKey, signingKey.alg || 'RS256');
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader(decodeProtectedHeader(idToken))
    .sign(key);
}

// ---------------------------------------------------------------------------------------------
// HTML (French, minimal, no external resources, no inline scripts)

const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

const STYLE = 'body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}'
  + 'label{display:block;margin-top:1rem}input{display:block;width:100%;padding:.4rem;font-size:1rem}'
  + 'button{margin-top:1.5rem;padding:.5rem 1rem;font-size:1rem}'
  + '.erreur{color:#b00020;border-left:4px solid #b00020;padding-left:.5rem}';

function page(title, body, { script } = {}) {
  return `<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — fournisseur d'identité de développement</title>
<style>${STYLE}</style>
${script ? `<script src="${script}" defer></script>` : ''}
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
<p><small>Fournisseur d'identité de développement : ne pas utiliser en production.</small></p>
</main>
</body>
</html>`;
}

function loginPage(uid, { login = '', error } = {}) {
  const errorHtml = error
    ? `<p class="erreur" id="erreur" role="alert">${escapeHtml(error)}</p>`
    : '';
  const describedBy = error ? ' aria-describedby="erreur" aria-invalid="true"' : '';
  return page('Connexion', `${errorHtml}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" novalidate>
<label for="login">Adresse électronique</label>
<input id="login" name="login" type="email" autocomplete="username" required value="${escapeHtml(login)}"${describedBy}>
<label for="password">Mot de passe</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${describedBy}>
<button type="submit">Se connecter</button>
</form>`);
}

// ---------------------------------------------------------------------------------------------
// Provider

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  // Signed cookies; a fresh secret per run is fine, sessions do not outlive the process.
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  pkce: { required: () => true },
  // Only what the portal uses: the code flow and the two client_secret methods.
  responseTypes: ['code'],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  scopes: ['openid', 'email', 'profile', 'organization'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
    // The ministry or organisation the agent belongs to: what the portal maps to a tenant.
    organization: ['organization', 'organization_id'],
  },
  // Put the scope claims into the id_token of the code flow too, so the portal can read the
  // organisation without a userinfo round trip (the library's default keeps them in userinfo).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
  },
  // Numbers rather than the library's default functions, which print notices on stdout.
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    IdToken: Number(hostile.id_token_ttl || config.id_token_ttl || 3600),
    Interaction: 3600,
    Session: 8 * 3600,
    Grant: 8 * 3600,
  },
  findAccount,
  loadExistingGrant,
  renderError,
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
});

if (tamperIdToken) {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
      ctx.body = { ...ctx.body, id_token: await tamperedIdToken(ctx.body.id_token) };
    }
  });
}

// Allow any loopback redirect for the flagged clients (see loopbackClients above).
const { prototype: clientProto } = provider.Client;
for (const method of ['redirectUriAllowed', 'postLogoutRedirectUriAllowed']) {
  const exact = clientProto[method];
  clientProto[method] = function allowed(value) {
    return exact.call(this, value) || (loopbackClients.has(this.clientId) && isLoopbackHttp(value));
  };
}

async function findAccount(_ctx, sub) {
  const account = accountsBySub.get(sub);
  if (!account) return undefined;
  return {
    accountId: sub,
    // The library filters these by the granted scopes and claims.
    async claims() {
      const claims = { ...account.claims };
      if (claims.email && claims.email_verified === undefined) claims.email_verified = true;
      return { ...claims, sub };
    },
  };
}

// First-party dev IdP: consent is implied. Grant whatever the configured client asks for, so
// the consent prompt never shows (the library's documented way of skipping consent).
async function loadExistingGrant(ctx) {
  const { client, session } = ctx.oidc;
  const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
  const grant = (grantId && await ctx.oidc.provider.Grant.find(grantId))
    || new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
  grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
  grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
  await grant.save();
  return grant;
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  const details = Object.entries(out)
    .map(([key, value]) => `<p><strong>${escapeHtml(key)}</strong> : ${escapeHtml(value)}</p>`)
    .join('\n');
  ctx.body = page('Erreur', details);
}

// RP-initiated logout. With a valid id_token_hint (the client is known), the confirmation form
// submits itself through a same-origin script: no friction for a browser. Without a hint, or
// without JavaScript, the user confirms with one button.
async function logoutSource(ctx, form) {
  const trusted = Boolean(ctx.oidc.entities.IdTokenHint);
  const formWithAnswer = form.replace(
    '</form>',
    '<input type="hidden" name="logout" value="yes"></form>',
  );
  ctx.body = page('Déconnexion', `${formWithAnswer}
<p>Voulez-vous vous déconnecter du fournisseur d'identité ?</p>
<button type="submit" form="op.logoutForm" id="confirmer-deconnexion">Se déconnecter</button>`,
  trusted ? { script: '/devidp/logout.js' } : {});
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Déconnexion', '<p>Vous êtes déconnecté·e.</p>');
}

// Unexpected failures go to stderr; expected OAuth errors are part of the protocol.
provider.on('server_error', (_ctx, error) => console.error('server_error', error));

// ---------------------------------------------------------------------------------------------
// Interactions (our login page), then everything else to the provider

const LOGOUT_SCRIPT = "document.getElementById('confirmer-deconnexion').click();\n";

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

async function handleInteraction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    send(res, 400, page('Erreur', '<p>Demande de connexion invalide.</p>'));
    return;
  }
  if (details.prompt.name !== 'login') {
    // loadExistingGrant grants everything, so only the login prompt can reach us.
    send(res, 400, page('Erreur', '<p>Étape de connexion inattendue.</p>'));
    return;
  }
  if (req.method === 'GET' && !action) {
    send(res, 200, loginPage(uid, { login: details.params.login_hint || '' }));
    return;
  }
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const account = checkPassword(form.get('login'), form.get('password'));
    if (!account) {
      send(res, 401, loginPage(uid, {
        login: form.get('login') || '',
        error: 'Adresse électronique ou mot de passe incorrect.',
      }));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: account.sub } }, {
      mergeWithLastSubmission: false,
    });
    return;
  }
  send(res, 405, page('Erreur', '<p>Méthode non autorisée.</p>'));
}

const callback = provider.callback();

const server = createServer(async (req, res) => {
  const { pathname } = new URL(req.url, issuer);
  try {
    if (wrongJwks && pathname === '/jwks') {
      send(res, 200, wrongJwks, 'application/jwk-set+json; charset=utf-8');
      return;
    }
    if (pathname === '/devidp/logout.js') {
      send(res, 200, LOGOUT_SCRIPT, 'text/javascript; charset=utf-8');
      return;
    }
    const match = pathname.match(/^\/interaction\/([\w-]+)(?:\/(\w+))?$/);
    if (match) {
      await handleInteraction(req, res, match[1], match[2]);
      return;
    }
  } catch (error) {
    // Typically an expired or unknown interaction (SessionNotFound): the user starts again.
    if (!res.headersSent) {
      send(res, 400, page('Erreur', `<p>${escapeHtml(error.error_description || error.message)}</p>`));
    }
    return;
  }
  callback(req, res);
});

// The library checks static clients lazily; a bad client should stop us now, not at login.
for (const { client_id: clientId } of clients) {
  try {
    await provider.Client.find(clientId);
  } catch (error) {
    console.error(`invalid client ${clientId}: ${error.error_description || error.message}`);
    process.exit(1);
  }
}

const host = config.listen_host || '127.0.0.1';
server.listen(port, host, () => {
  console.log(`ready ${issuer}`);
});

// All state is in memory: nothing to flush, stop at once.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
