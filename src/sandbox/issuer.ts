import { randomUUID } from 'node:crypto';
import { CompactSign, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { DEFAULT_AUDIENCE } from '../protocol.js';
import { isPlainObject } from './http.js';

/**
 * The sandbox's OIDC issuer: one key pair per signing algorithm, published as a JWKS behind
 * standard discovery, plus a minting function standing in for a CI platform's token service.
 */

export const SIGNING_ALGS = ['RS256', 'ES256', 'PS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export const DEFAULT_MINT_SUBJECT = 'repo:example/app:ref:refs/heads/main';
/** Like a GitHub Actions ID token (≈5 min), the common case the lifetime rule is tuned for. */
export const DEFAULT_MINT_LIFETIME_SECONDS = 300;

export interface MintOptions {
  /** Default 'repo:example/app:ref:refs/heads/main'. */
  sub?: string;
  /** Default DEFAULT_AUDIENCE (https://api.anthropic.com). */
  aud?: string | string[];
  /** `exp − iat`; default 300. */
  lifetimeSeconds?: number;
  /** Seconds since the epoch; default: the sandbox clock. */
  iat?: number;
  /** Extra claims, applied last: they can override the standard ones, and `undefined` removes one. */
  claims?: Record<string, unknown>;
  /** Default: a random UUID. `false` omits the claim. */
  jti?: string | false;
  /** Default 'RS256'. */
  alg?: SigningAlg;
  /** Header `kid`; default: the published kid of the key for `alg`. */
  kid?: string;
  /** Overrides `iss` (default: the sandbox's own issuer URL). */
  issuer?: string;
  /** Sign with a key that is not in the JWKS (keeping the published kid): a forged signature. */
  signWithUnknownKey?: boolean;
}

export interface IssuerKey {
  alg: SigningAlg;
  kid: string;
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  jwk: JWK;
}

export interface SandboxIssuer {
  keys: ReadonlyMap<string, IssuerKey>;
  jwks(): { keys: JWK[] };
  discovery(issuerUrl: string): Record<string, unknown>;
  /** The published key for a `kid`, or undefined (the token endpoint then refuses the assertion). */
  keyFor(kid: string): IssuerKey | undefined;
  mint(opts: MintOptions, defaultIssuerUrl: string, nowMs: number): Promise<string>;
}

export const kidFor = (alg: SigningAlg): string => `sandbox-${alg.toLowerCase()}`;

async function makeKey(alg: SigningAlg, kid: string): Promise<IssuerKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, publicKey, privateKey, jwk };
}

export async function createIssuer(): Promise<SandboxIssuer> {
  const published = await Promise.all(SIGNING_ALGS.map((alg) => makeKey(alg, kidFor(alg))));
  const keys = new Map(published.map((k) => [k.kid, k]));
  // Forgery keys are made on first use only: most sandboxes never need them and RSA generation costs.
  const rogue = new Map<SigningAlg, Promise<IssuerKey>>();
  const rogueKey = (alg: SigningAlg): Promise<IssuerKey> => {
    let key = rogue.get(alg);
    if (!key) {
      key = makeKey(alg, kidFor(alg));
      rogue.set(alg, key);
    }
    return key;
  };

  return {
    keys,
    jwks: () => ({ keys: published.map((k) => k.jwk) }),
    discovery: (issuerUrl) => ({
      issuer: issuerUrl,
      jwks_uri: `${issuerUrl}/.well-known/jwks.json`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [...SIGNING_ALGS],
      claims_supported: ['sub', 'aud', 'iss', 'iat', 'exp', 'nbf', 'jti'],
      scopes_supported: ['openid'],
    }),
    keyFor: (kid) => keys.get(kid),
    async mint(opts, defaultIssuerUrl, nowMs) {
      const alg = opts.alg ?? 'RS256';
      if (!SIGNING_ALGS.includes(alg)) throw new Error(`mint: alg must be one of ${SIGNING_ALGS.join(', ')}`);
      const iat = opts.iat ?? Math.floor(nowMs / 1000);
      const payload: Record<string, unknown> = {
        iss: opts.issuer ?? defaultIssuerUrl,
        sub: opts.sub ?? DEFAULT_MINT_SUBJECT,
        aud: opts.aud ?? DEFAULT_AUDIENCE,
        iat,
        exp: iat + (opts.lifetimeSeconds ?? DEFAULT_MINT_LIFETIME_SECONDS),
      };
      if (opts.jti !== false) payload['jti'] = opts.jti ?? randomUUID();
      Object.assign(payload, opts.claims ?? {});
      const signer = opts.signWithUnknownKey ? await rogueKey(alg) : keys.get(kidFor(alg))!;
      // Built with CompactSign rather than SignJWT so tests can drop or corrupt any standard claim.
      return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg, typ: 'JWT', kid: opts.kid ?? kidFor(alg) })
        .sign(signer.privateKey);
    },
  };
}

/** Validates MintOptions arriving as JSON over `POST /_sandbox/mint`; throws a message naming the field. */
export function parseMintOptions(value: unknown): MintOptions {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw new Error('the body must be a JSON object of mint options');
  const known = ['sub', 'aud', 'lifetimeSeconds', 'iat', 'claims', 'jti', 'alg', 'kid', 'issuer', 'signWithUnknownKey'];
  for (const key of Object.keys(value)) if (!known.includes(key)) throw new Error(`unknown mint option ${JSON.stringify(key)}`);
  const { sub, aud, lifetimeSeconds, iat, claims, jti, alg, kid, issuer, signWithUnknownKey } = value;
  const optString = (v: unknown, name: string): void => {
    if (v !== undefined && typeof v !== 'string') throw new Error(`${name} must be a string`);
  };
  const optNumber = (v: unknown, name: string): void => {
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) throw new Error(`${name} must be a number`);
  };
  optString(sub, 'sub');
  optString(kid, 'kid');
  optString(issuer, 'issuer');
  optNumber(lifetimeSeconds, 'lifetimeSeconds');
  optNumber(iat, 'iat');
  if (aud !== undefined && typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))) {
    throw new Error('aud must be a string or an array of strings');
  }
  if (claims !== undefined && !isPlainObject(claims)) throw new Error('claims must be an object');
  if (jti !== undefined && jti !== false && typeof jti !== 'string') throw new Error('jti must be a string or false');
  if (alg !== undefined && !(SIGNING_ALGS as readonly unknown[]).includes(alg)) {
    throw new Error(`alg must be one of ${SIGNING_ALGS.join(', ')}`);
  }
  if (signWithUnknownKey !== undefined && typeof signWithUnknownKey !== 'boolean') throw new Error('signWithUnknownKey must be a boolean');
  return value as MintOptions;
}
