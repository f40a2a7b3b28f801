import type { AccessToken } from '../core/credentials.js';
import { isoTime } from '../util/clock.js';

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
    // A cache file written by someone else may hold an expiry no date can express: null then.
    expiration: t.expiresAt === null ? null : (isoTime(t.expiresAt)?.replace(/\.\d{3}Z$/, 'Z') ?? null),
  };
}
