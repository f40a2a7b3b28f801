import { randomBytes } from 'node:crypto';
import { compactVerify } from 'jose';
import { ACCESS_TOKEN_PREFIX, ALLOWED_ALGS, DEFAULT_MAX_JWT_LIFETIME_SECONDS, DEFAULT_TOKEN_LIFETIME_SECONDS, FEDERATION_BETA, GRANT_TYPE_JWT_BEARER, LEEWAY_SECONDS, MAX_ASSERTION_BYTES, mintedTokenLifetime } from '../protocol.js';
import { decodeJwt } from '../util/jwt.js';
import {
  RULE_ID_RE,
  WORKSPACE_ID_RE,
  effectiveIssuerUrl,
  effectiveWorkspaces,
  DEFAULT_OAUTH_SCOPE,
  type SandboxConfig,
  type SandboxRuleConfig,
} from './config.js';
import { errorBody, hasBeta, isPlainObject, tryParseJson, type Reply } from './http.js';
import type { SandboxIssuer } from './issuer.js';

/**
 * `POST /v1/oauth/token`: the RFC 7523 jwt-bearer exchange with the server-side checks of spec §2.
 * Transport-free: it takes the request's parts and returns the reply plus what the recorder needs.
 */


/** Why an assertion was refused. The client only ever sees "Authentication failed" (spec §2). */
export type DenialReason =
  | 'organization_mismatch'
  | 'unknown_rule'
  | 'archived_rule'
  | 'unknown_issuer'
  | 'assertion_too_large'
  | 'malformed_jwt'
  | 'alg_not_allowed'
  | 'unknown_kid'
  | 'key_alg_mismatch'
  | 'bad_signature'
  | 'missing_claim'
  | 'invalid_claim'
  | 'iat_in_future'
  | 'expired'
  | 'not_yet_valid'
  | 'jwt_lifetime_too_long'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'subject_mismatch'
  | 'claims_mismatch'
  | 'service_account_mismatch'
  | 'workspace_required'
  | 'workspace_not_enabled'
  | 'jti_replayed';

export interface ExchangeRecord {
  /** Sandbox clock, ms since the epoch. */
  at: number;
  method: string;
  request_id: string;
  /** Request headers, names lower-cased. */
  headers: Record<string, string>;
  /** The parsed JSON body (or the raw text when it was not JSON; undefined when empty). */
  body: unknown;
  status: number;
  /** The body sent back (parsed JSON, or the raw text of an injected non-JSON fault). */
  response: unknown;
  assertion?: string;
  /** For 401s, the real denial reason the service would show only in the Console's history. */
  reason?: DenialReason | 'injected_fault';
  /** A human sentence with the specifics behind `reason` (never the assertion itself). */
  detail?: string;
}

export interface IssuedToken {
  /** ms since the epoch; the API accepts the token while now < expiresAt. */
  expiresAt: number;
  workspaceId: string;
  scope: string;
  ruleId: string;
  serviceAccountId: string;
  organizationId: string;
}

export type TokenStore = Map<string, IssuedToken>;

export interface ExchangeInput {
  method: string;
  headers: Record<string, string>;
  rawBody: string;
}

export interface ExchangeOutcome {
  reply: Reply;
  body: unknown;
  assertion?: string;
  reason?: DenialReason;
  detail?: string;
}

export interface TokenEndpointDeps {
  /** Read on every request: the configuration is live. */
  config: () => SandboxConfig;
  ownIssuerUrl: string;
  issuer: SandboxIssuer;
  now: () => number;
  tokens: TokenStore;
}

export interface TokenEndpoint {
  handle(input: ExchangeInput, requestId: string): Promise<ExchangeOutcome>;
  /** How many jtis are currently remembered (all issuers). */
  usedJtiCount(): number;
}

class Denied extends Error {
  constructor(
    readonly reason: DenialReason,
    readonly detail: string,
  ) {
    super(detail);
  }
}

class BadRequest extends Error {}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function createTokenEndpoint(deps: TokenEndpointDeps): TokenEndpoint {
  // Single-use ledger, per issuer: jti → the second (exp + leeway) after which the JWT itself is
  // dead, so forgetting the jti then cannot let a replay through.
  const usedJtis = new Map<string, Map<string, number>>();

  function invalid(message: string): never {
    throw new BadRequest(message);
  }
  function deny(reason: DenialReason, detail: string): never {
    throw new Denied(reason, detail);
  }

  /** Request shape (400s). These never reach the Console's authentication history (spec §2). */
  function parseRequest(input: ExchangeInput, config: SandboxConfig): Record<string, unknown> {
    if (config.require_federation_beta !== false && !hasBeta(input.headers, FEDERATION_BETA)) {
      // The beta routes the request to the federation handler; without it the grant is unknown here.
      invalid(`the jwt-bearer grant requires the "anthropic-beta: ${FEDERATION_BETA}" header`);
    }
    const contentType = (input.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (contentType !== 'application/json') invalid('request body must be JSON (Content-Type: application/json)');
    const body = tryParseJson(input.rawBody);
    if (!isPlainObject(body)) return invalid('request body must be a JSON object');

    const grant = body['grant_type'];
    if (grant === undefined) invalid('grant_type: field required');
    if (grant !== GRANT_TYPE_JWT_BEARER) invalid(`grant_type: unsupported grant type (expected "${GRANT_TYPE_JWT_BEARER}")`);
    const assertion = body['assertion'];
    if (typeof assertion !== 'string' || assertion === '') invalid('assertion: field required (a non-empty string)');
    const rule = body['federation_rule_id'];
    if (rule === undefined) invalid('federation_rule_id: field required');
    if (typeof rule !== 'string' || !RULE_ID_RE.test(rule)) invalid('federation_rule_id: must be a tagged id of the form fdrl_…');
    const org = body['organization_id'];
    if (typeof org !== 'string' || org === '') invalid('organization_id: field required (the organization UUID)');
    // `workspace_id` is optional, but an empty string is a malformed id, not an omission (spec §2).
    const ws = body['workspace_id'];
    if (ws !== undefined && (typeof ws !== 'string' || (ws !== 'default' && !WORKSPACE_ID_RE.test(ws)))) {
      invalid('workspace_id: must be a tagged id of the form wrkspc_… or the literal "default"');
    }
    const sa = body['service_account_id'];
    if (sa !== undefined && (typeof sa !== 'string' || sa === '')) invalid('service_account_id: must be a non-empty string');
    return body;
  }

  /** Every check on the assertion and its match against the rule (401s). Returns the issued token. */
  async function authorize(body: Record<string, unknown>, config: SandboxConfig): Promise<{ token: string; issued: IssuedToken; lifetime: number }> {
    const assertion = body['assertion'] as string;
    const nowMs = deps.now();
    const nowSec = Math.floor(nowMs / 1000);

    if (body['organization_id'] !== config.organization_id) deny('organization_mismatch', 'organization_id does not name this organization');
    const rule = config.rules.find((r) => r.id === body['federation_rule_id']);
    if (!rule) return deny('unknown_rule', `no federation rule ${String(body['federation_rule_id'])}`);
    if (rule.archived) deny('archived_rule', `federation rule ${rule.id} is archived`);
    const issuer = config.issuers.find((i) => i.id === rule.issuer_id);
    if (!issuer) return deny('unknown_issuer', `rule ${rule.id} names issuer ${rule.issuer_id}, which does not exist`);

    const bytes = Buffer.byteLength(assertion, 'utf8');
    if (bytes > MAX_ASSERTION_BYTES) deny('assertion_too_large', `assertion is ${bytes} bytes; the limit is ${MAX_ASSERTION_BYTES}`);
    const segments = assertion.split('.').length;
    if (segments !== 3) deny('malformed_jwt', `assertion has ${segments} segment(s), a compact JWS has 3`);
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      ({ header, payload } = decodeJwt(assertion));
    } catch (err) {
      return deny('malformed_jwt', (err as Error).message);
    }

    // Asymmetric algorithms only: HS* would need a shared secret, `none` has no signature at all.
    const alg = header['alg'];
    if (typeof alg !== 'string' || !ALLOWED_ALGS.has(alg)) deny('alg_not_allowed', `header alg ${JSON.stringify(alg)} is not accepted`);
    const kid = header['kid'];
    const key = typeof kid === 'string' ? deps.issuer.keyFor(kid) : undefined;
    if (!key) return deny('unknown_kid', `header kid ${JSON.stringify(kid)} is not in the JWKS of issuer ${issuer.id}`);
    // A JWK published with an `alg` binds the key to that algorithm; anything else is a forgery attempt.
    if (key.alg !== alg) deny('key_alg_mismatch', `key ${key.kid} is published for ${key.alg}, the header says ${String(alg)}`);
    try {
      await compactVerify(assertion, key.publicKey, { algorithms: [key.alg] });
    } catch (err) {
      deny('bad_signature', `signature verification failed (${(err as Error).name})`);
    }

    const missing = ['sub', 'iat', 'exp'].filter((c) => payload[c] === undefined || payload[c] === null);
    if (missing.length) deny('missing_claim', `required claim(s) missing: ${missing.join(', ')}`);
    const { sub, iat, exp, nbf } = payload;
    if (typeof sub !== 'string' || sub === '') return deny('invalid_claim', 'sub must be a non-empty string');
    if (!num(iat) || !num(exp)) return deny('invalid_claim', 'iat and exp must be numeric dates');
    if (nbf !== undefined && !num(nbf)) deny('invalid_claim', 'nbf must be a numeric date');

    // 30 s of clock skew is tolerated on iat, exp and nbf alike (spec §2).
    if (iat > nowSec + LEEWAY_SECONDS) deny('iat_in_future', `iat is ${iat - nowSec}s in the future (leeway ${LEEWAY_SECONDS}s)`);
    if (exp <= nowSec - LEEWAY_SECONDS) deny('expired', `exp passed ${nowSec - exp}s ago (leeway ${LEEWAY_SECONDS}s)`);
    if (num(nbf) && nbf > nowSec + LEEWAY_SECONDS) deny('not_yet_valid', `nbf is ${nbf - nowSec}s in the future (leeway ${LEEWAY_SECONDS}s)`);
    const maxLifetime = issuer.max_jwt_lifetime_seconds ?? DEFAULT_MAX_JWT_LIFETIME_SECONDS;
    if (exp - iat > maxLifetime) deny('jwt_lifetime_too_long', `exp − iat is ${exp - iat}s; issuer ${issuer.id} allows ${maxLifetime}s`);

    // Byte-for-byte: no trailing-slash or case normalisation, exactly like the real service.
    const expectedIss = effectiveIssuerUrl(issuer, deps.ownIssuerUrl);
    if (payload['iss'] !== expectedIss) deny('issuer_mismatch', `iss ${JSON.stringify(payload['iss'])} is not the registered issuer ${JSON.stringify(expectedIss)}`);

    matchRule(rule, payload, sub);

    const requestedSa = body['service_account_id'];
    if (requestedSa !== undefined && requestedSa !== rule.service_account_id) {
      // An expected-target check: the caller names the SA it believes the rule maps to.
      deny('service_account_mismatch', `service_account_id ${String(requestedSa)} is not the rule's service account`);
    }

    const workspaces = effectiveWorkspaces(rule, config);
    const requestedWs = body['workspace_id'] as string | undefined;
    let workspaceId: string;
    if (requestedWs === undefined) {
      if (workspaces.length > 1) deny('workspace_required', `rule ${rule.id} is enabled for ${workspaces.length} workspaces and no workspace_id was sent`);
      workspaceId = workspaces[0]!;
    } else {
      workspaceId = requestedWs === 'default' ? config.default_workspace_id : requestedWs;
      if (!workspaces.includes(workspaceId)) deny('workspace_not_enabled', `rule ${rule.id} is not enabled for workspace ${workspaceId}`);
    }

    // Single use, checked last so a request refused for another reason does not burn the jti.
    const jti = payload['jti'];
    if (jti !== undefined && issuer.check_jti !== false) {
      const ledger = usedJtis.get(issuer.id) ?? new Map<string, number>();
      usedJtis.set(issuer.id, ledger);
      for (const [seen, until] of ledger) if (until < nowSec) ledger.delete(seen);
      const id = typeof jti === 'string' ? jti : JSON.stringify(jti);
      if (ledger.has(id)) deny('jti_replayed', `jti was already exchanged (issuer ${issuer.id})`);
      ledger.set(id, exp + LEEWAY_SECONDS);
    }

    const lifetime = mintedTokenLifetime(rule.token_lifetime_seconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS, exp - nowMs / 1000);
    const issued: IssuedToken = {
      expiresAt: nowMs + lifetime * 1000,
      workspaceId,
      scope: rule.oauth_scope ?? DEFAULT_OAUTH_SCOPE,
      ruleId: rule.id,
      serviceAccountId: rule.service_account_id,
      organizationId: config.organization_id,
    };
    return { token: ACCESS_TOKEN_PREFIX + randomBytes(32).toString('base64url'), issued, lifetime };
  }

  function matchRule(rule: SandboxRuleConfig, payload: Record<string, unknown>, sub: string): void {
    const match = rule.match ?? {};
    if (match.audience !== undefined) {
      const aud = payload['aud'];
      const ok = typeof aud === 'string' ? aud === match.audience : Array.isArray(aud) && aud.includes(match.audience);
      if (!ok) deny('audience_mismatch', `aud does not contain ${JSON.stringify(match.audience)}`);
    }
    if (match.subject_prefix !== undefined) {
      const p = match.subject_prefix;
      const ok = p.endsWith('*') ? sub.startsWith(p.slice(0, -1)) : sub === p;
      if (!ok) deny('subject_mismatch', `sub ${JSON.stringify(sub)} does not match ${JSON.stringify(p)}`);
    }
    for (const [claim, expected] of Object.entries(match.claims ?? {})) {
      if (payload[claim] !== expected) deny('claims_mismatch', `claim ${JSON.stringify(claim)} is not ${JSON.stringify(expected)}`);
    }
  }

  return {
    usedJtiCount: () => [...usedJtis.values()].reduce((n, m) => n + m.size, 0),
    async handle(input, requestId): Promise<ExchangeOutcome> {
      const parsed = tryParseJson(input.rawBody);
      const recordedBody = parsed !== undefined ? parsed : input.rawBody || undefined;
      const assertion = isPlainObject(parsed) && typeof parsed['assertion'] === 'string' ? parsed['assertion'] : undefined;
      const base: Omit<ExchangeOutcome, 'reply'> = { body: recordedBody, ...(assertion !== undefined ? { assertion } : {}) };
      if (input.method !== 'POST') {
        return { ...base, reply: { status: 405, body: errorBody('invalid_request_error', `method ${input.method} not allowed; use POST`, requestId), headers: { allow: 'POST' } } };
      }
      const config = deps.config();
      try {
        const body = parseRequest(input, config);
        const { token, issued, lifetime } = await authorize(body, config);
        pruneTokens(deps.tokens, deps.now());
        deps.tokens.set(token, issued);
        return {
          ...base,
          reply: {
            status: 200,
            // RFC 6749 §5.1: responses carrying tokens must not be cached.
            headers: { 'cache-control': 'no-store', pragma: 'no-cache' },
            body: { access_token: token, token_type: 'Bearer', expires_in: lifetime, scope: issued.scope },
          },
        };
      } catch (err) {
        if (err instanceof BadRequest) {
          return { ...base, reply: { status: 400, body: errorBody('invalid_request_error', err.message, requestId) } };
        }
        if (err instanceof Denied) {
          // One body for every denial: the real service never tells the caller why (spec §2).
          return {
            ...base,
            reason: err.reason,
            detail: err.detail,
            reply: { status: 401, body: errorBody('authentication_error', 'Authentication failed', requestId) },
          };
        }
        throw err;
      }
    },
  };
}

/** Forgets tokens dead for over an hour, so a long-running demo does not grow without bound. */
function pruneTokens(tokens: TokenStore, nowMs: number): void {
  for (const [token, t] of tokens) if (t.expiresAt < nowMs - 3_600_000) tokens.delete(token);
}
