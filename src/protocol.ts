/**
 * Constants of Anthropic Workload Identity Federation (spec: anthropic-wif.md), each with the
 * reason it has this value. The client, doctor and the sandbox server all read them here, so a
 * rule of the server is written down once. Values only: no imports, safe on the hot path.
 */

// ── Where and how the exchange is made (spec §2) ───────────────────────────────────────────────

/** The API's origin when neither the profile nor ANTHROPIC_BASE_URL names one; the SDKs' default. */
export const DEFAULT_BASE_URL = 'https://api.anthropic.com';

/** The token endpoint, appended to base_url (whose trailing slashes the SDKs strip first). */
export const TOKEN_PATH = '/v1/oauth/token';

/** RFC 7523 §2.1: the grant that presents a JWT as the authorization grant. */
export const GRANT_TYPE_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Required on the exchange and on every bearer request made with the minted token (spec §2–§3). */
export const OAUTH_BETA = 'oauth-2025-04-20';

/** Routes the exchange to the federation handler; sent on the jwt-bearer grant only, never elsewhere. */
export const FEDERATION_BETA = 'oidc-federation-2026-04-01';

/** The prefix of every minted access token (spec §2: `sk-ant-oat01-…`). */
export const ACCESS_TOKEN_PREFIX = 'sk-ant-oat01-';

// ── What the server checks on the assertion (spec §2), so the client can check it first ─────────

/** Assertions larger than 16 KiB are refused. */
export const MAX_ASSERTION_BYTES = 16 * 1024;

/** Asymmetric JWS algorithms only: no HS* (a shared secret is no identity) and no `none`. */
export const ALLOWED_ALGS: ReadonlySet<string> = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']);

/** Clock leeway the server allows on `exp`, `nbf` and `iat`; also how long past `exp` a jti stays used. */
export const LEEWAY_SECONDS = 30;

// ── Federation resources (spec §1) ─────────────────────────────────────────────────────────────

/** An issuer's `max_jwt_lifetime_seconds` when not set: `exp − iat` of a presented JWT may not exceed it. */
export const DEFAULT_MAX_JWT_LIFETIME_SECONDS = 3600;

/** The largest `max_jwt_lifetime_seconds` an issuer may set (49 h); the smallest is 1. */
export const MAX_MAX_JWT_LIFETIME_SECONDS = 176_400;

/** A rule's `token_lifetime_seconds` when not set. */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 3600;

/** The range a rule's `token_lifetime_seconds` may take. */
export const MIN_RULE_TOKEN_LIFETIME_SECONDS = 60;
export const MAX_RULE_TOKEN_LIFETIME_SECONDS = 86_400;

/** The minted token never lives less than this, however close the JWT is to its expiry. */
export const MIN_TOKEN_LIFETIME_SECONDS = 60;

/**
 * The lifetime of a minted token (spec §2): the rule's lifetime, capped at twice what the
 * presented JWT has left (a short-lived identity cannot buy a long-lived token), never below 60 s.
 */
export function mintedTokenLifetime(ruleLifetimeSeconds: number, jwtSecondsLeft: number): number {
  return Math.max(MIN_TOKEN_LIFETIME_SECONDS, Math.min(ruleLifetimeSeconds, Math.floor(2 * Math.max(0, jwtSecondsLeft))));
}

// ── Identity tokens (spec §6) ──────────────────────────────────────────────────────────────────

/**
 * The audience to request identity tokens for, everywhere except Entra (whose tokens carry the
 * app ID URI api://<APP_ID> as `aud`): the federation rule's `audience` must match it exactly.
 */
export const DEFAULT_AUDIENCE = 'https://api.anthropic.com';
