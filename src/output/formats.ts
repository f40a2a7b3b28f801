import type { AccessToken } from '../core/credentials.js';

/** `token --format json`: the SDK credentials shape (spec §4) plus expires_in. */
export function tokenJson(t: AccessToken, nowSeconds: number): Record<string, unknown> {
  return {
    version: '1.0',
    type: 'oauth_token',
    access_token: t.token,
    expires_at: t.expiresAt,
    expires_in: t.expiresAt === null ? null : Math.max(0, t.expiresAt - nowSeconds),
    ...(t.scope ? { scope: t.scope } : {}),
  };
}

/**
 * `credential-process`: one JSON document for hosts that run a command to obtain credentials,
 * with the expiry both in epoch seconds and RFC 3339 UTC (the form AWS credential_process uses).
 */
export function credentialProcessJson(t: AccessToken): Record<string, unknown> {
  return {
    version: 1,
    token_type: 'Bearer',
    access_token: t.token,
    expires_at: t.expiresAt,
    expiration: t.expiresAt === null ? null : new Date(t.expiresAt * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}
