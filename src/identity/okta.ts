import { randomUUID, createPrivateKey, type KeyObject } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { WifError } from '../util/errors.js';
import { jsonBody, jwtField, requireHttps, sourceRequest, statusError } from './common.js';
import { optionString } from './options.js';
import type { IdentitySource } from './source.js';

const CONFIG_FIX =
  'set "issuer" (https://<org>.okta.com/oauth2/<authorization server id>), "client_id", "private_key_path" and "scope" in the profile\'s claude_wif.identity';

/** Reads the service app's private key (PEM: PKCS#8, PKCS#1, SEC1; or a JWK JSON), refusing a key other users can read. */
function readPrivateKey(path: string): { key: KeyObject; alg: string; kid?: string } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new WifError('identity_unavailable', `okta: private key ${path} cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { hint: CONFIG_FIX });
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (process.platform !== 'win32' && (st.mode & 0o066) !== 0) {
      throw new WifError('insecure_file', `okta: private key ${path} is readable or writable by other users (mode ${(st.mode & 0o777).toString(8)})`, {
        hint: `run \`chmod 600 ${path}\``,
      });
    }
    if (st.size > 64 * 1024) throw new WifError('config_invalid', `okta: ${path} is too large to be a private key`);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  let key: KeyObject;
  let kid: string | undefined;
  try {
    if (text.trim().startsWith('{')) {
      const jwk = JSON.parse(text) as Record<string, unknown>;
      kid = typeof jwk['kid'] === 'string' ? jwk['kid'] : undefined;
      key = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    } else {
      key = createPrivateKey(text);
    }
  } catch (err) {
    throw new WifError('config_invalid', `okta: ${path} is not a private key (PEM or JWK): ${(err as Error).message}`, { hint: CONFIG_FIX });
  }
  const type = key.asymmetricKeyType;
  let alg: string;
  if (type === 'rsa') alg = 'RS256';
  else if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    alg = curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : 'ES256';
  } else throw new WifError('config_invalid', `okta: ${path} holds a ${type ?? 'unknown'} key; Okta accepts RSA or EC keys for private_key_jwt`);
  return { key, alg, ...(kid ? { kid } : {}) };
}

/**
 * Okta service app (spec §6): client_credentials at <issuer>/v1/token of a custom authorization
 * server, authenticated with a private_key_jwt client assertion signed by jose. The access token
 * (a JWT from that authorization server) is the identity. Each request mints a new one.
 */
const okta: IdentitySource = {
  name: 'okta',
  mintsOnDemand: true,
  describe(options) {
    return `Okta client credentials at ${optionString(options, 'issuer') ?? '(no issuer configured)'} for client ${optionString(options, 'client_id') ?? '?'}`;
  },
  async fetch(ctx) {
    const issuer = optionString(ctx.options, 'issuer')?.replace(/\/+$/, '');
    const clientId = optionString(ctx.options, 'client_id');
    const keyPath = optionString(ctx.options, 'private_key_path');
    const scope = optionString(ctx.options, 'scope');
    const missing = [!issuer && 'issuer', !clientId && 'client_id', !keyPath && 'private_key_path', !scope && 'scope'].filter(Boolean);
    if (missing.length) throw new WifError('identity_unavailable', `okta: missing option(s) ${missing.join(', ')}`, { hint: CONFIG_FIX });
    let issuerUrl: URL;
    try {
      issuerUrl = new URL(issuer!);
    } catch {
      throw new WifError('config_invalid', `okta: issuer ${JSON.stringify(issuer)} is not a URL`, { hint: CONFIG_FIX });
    }
    // The org authorization server's tokens cannot be verified by third parties (spec §6).
    if (!/\/oauth2\/[^/]+$/.test(issuerUrl.pathname)) {
      throw new WifError('config_invalid', `okta: issuer ${issuer} is not a custom authorization server (…/oauth2/<id>); the org authorization server's tokens cannot be federated`, { hint: CONFIG_FIX });
    }
    requireHttps('okta', issuer!, 'the issuer');
    const tokenUrl = `${issuer}/v1/token`;
    const { key, alg, kid } = readPrivateKey(keyPath!);
    const { SignJWT } = await import('jose');
    const now = Math.floor(ctx.clock.now() / 1000);
    // RFC 7523 client authentication: iss = sub = client_id, aud = the token endpoint, unique jti.
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg, typ: 'JWT', ...(optionString(ctx.options, 'key_id') ?? kid ? { kid: optionString(ctx.options, 'key_id') ?? kid } : {}) })
      .setIssuer(clientId!)
      .setSubject(clientId!)
      .setAudience(tokenUrl)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .setJti(randomUUID())
      .sign(key);
    const what = 'the Okta token endpoint';
    const res = await sourceRequest(ctx, {
      source: 'okta',
      what,
      url: tokenUrl,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'claude-wif' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: scope!,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }).toString(),
      timeoutMs: ctx.timeoutMs,
      proxyEnv: ctx.env,
      fix: 'check network access to the Okta org and HTTPS_PROXY/NO_PROXY',
    });
    if (res.status !== 200) {
      throw statusError('okta', what, res, 'check the service app: client authentication "Public key / Private key" with this key registered, the client_credentials grant enabled, and the scope granted by an access policy of the authorization server');
    }
    return { jwt: jwtField('okta', what, jsonBody('okta', what, res), 'access_token'), origin: `Okta ${issuerUrl.host} (client ${clientId})` };
  },
};

export default okta;
