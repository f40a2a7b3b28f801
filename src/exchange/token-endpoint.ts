import { FEDERATION_BETA, GRANT_TYPE_JWT_BEARER, OAUTH_BETA, TOKEN_PATH } from '../protocol.js';
import { isoTime, type Clock } from '../util/clock.js';
import { WifError } from '../util/errors.js';
import { header, httpRequest, HttpTransportError, retryDelay, type HttpResponse, type RetryPolicy } from '../util/http.js';
import type { Logger } from '../util/log.js';
import { deniedError, errorForStatus } from './errors.js';
import { isTokenText, MAX_TOKEN_LENGTH } from '../util/token-text.js';

/** The SDKs read at most 1 MiB of a token response. */
export const MAX_RESPONSE_BYTES = 1 << 20;

export interface ExchangeRequest {
  baseUrl: string;
  assertion: string;
  federationRuleId: string;
  organizationId: string;
  serviceAccountId?: string | undefined;
  workspaceId?: string | undefined;
  userAgent: string;
}

export interface ExchangeOptions {
  clock: Clock;
  log: Logger;
  timeoutMs: number;
  retry: RetryPolicy;
  /** Called before a retry; lets the caller fetch a fresh JWT when its source can mint one. */
  nextAssertion?: () => Promise<string>;
  /**
   * The assertion is single use (a jti the issuer checks): once it may have reached the endpoint it
   * is never sent again, and its answer is awaited until the overall deadline (retry.deadline)
   * instead of being abandoned after timeoutMs, which then bounds only the connection. A retry
   * happens only with a fresh assertion from nextAssertion (issue 15 item 12).
   */
  singleUse?: boolean;
  /** Told what became of each assertion: never sent (provably), or sent with this outcome. */
  onOutcome?: (assertion: string, outcome: AttemptOutcome) => void;
}

export type AttemptOutcome =
  | { sent: false }
  | { sent: true; state: 'accepted' | 'refused' | 'failed' | 'no_answer'; status?: number | undefined; code?: string | undefined };

export interface ExchangeResult {
  accessToken: string;
  /** Integer unix seconds. */
  expiresAt: number;
  expiresIn: number;
  scope?: string | undefined;
  requestId?: string | undefined;
}

/** Refuses to send an assertion over cleartext, except to loopback (spec §2 transport safety). */
export function requireSecureEndpoint(baseUrl: string): void {
  const url = new URL(baseUrl);
  if (url.protocol === 'https:') return;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (url.protocol === 'http:' && (host === 'localhost' || host === '127.0.0.1' || host === '::1')) return;
  throw new WifError('insecure_endpoint', `refusing to send a credential to ${url.origin}: the token endpoint must use https (http is allowed only for localhost, 127.0.0.1 and [::1])`, {
    hint: 'set base_url / ANTHROPIC_BASE_URL to an https:// URL',
  });
}

/** The request body exactly as the SDKs build it: optional fields omitted when unset, never sent empty. */
export function exchangeBody(req: ExchangeRequest): Record<string, string> {
  const body: Record<string, string> = {
    grant_type: GRANT_TYPE_JWT_BEARER,
    assertion: req.assertion,
    federation_rule_id: req.federationRuleId,
    organization_id: req.organizationId,
  };
  if (req.serviceAccountId) body['service_account_id'] = req.serviceAccountId;
  if (req.workspaceId) body['workspace_id'] = req.workspaceId;
  return body;
}

/**
 * RFC 7523 jwt-bearer exchange at POST {base_url}/v1/oauth/token with bounded retries on
 * transport errors, 429 and 5xx only (honouring Retry-After), never on other 4xx.
 */
export async function exchangeToken(req: ExchangeRequest, opts: ExchangeOptions): Promise<ExchangeResult> {
  try {
    requireSecureEndpoint(req.baseUrl);
  } catch (err) {
    opts.onOutcome?.(req.assertion, { sent: false });
    throw err;
  }
  const url = `${req.baseUrl}${TOKEN_PATH}`;
  let assertion = req.assertion;
  let lastError: WifError | undefined;
  /** The last assertion sent may have reached the endpoint. */
  let reached = false;
  const told = (o: AttemptOutcome) => opts.onOutcome?.(assertion, o);
  for (let attempt = 0; attempt < opts.retry.attempts; attempt++) {
    if (attempt > 0 && opts.nextAssertion) assertion = await opts.nextAssertion();
    else if (attempt > 0 && reached && opts.singleUse) break; // never sent twice (checked by mayRetry too)
    const remaining = opts.retry.deadline - opts.clock.now();
    if (remaining <= 0) {
      if (attempt > 0 && opts.nextAssertion) told({ sent: false });
      break;
    }
    let res: HttpResponse;
    try {
      opts.log.debug(`POST ${url} (attempt ${attempt + 1}/${opts.retry.attempts})`);
      res = await httpRequest({
        url,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'anthropic-beta': `${OAUTH_BETA},${FEDERATION_BETA}`,
          'user-agent': req.userAgent,
        },
        body: JSON.stringify(exchangeBody({ ...req, assertion })),
        // Single use: wait for the answer as long as the deadline allows; only connecting is bounded by timeoutMs.
        ...(opts.singleUse ? { timeoutMs: remaining, connectTimeoutMs: Math.min(opts.timeoutMs, remaining) } : { timeoutMs: Math.min(opts.timeoutMs, remaining) }),
        maxBytes: MAX_RESPONSE_BYTES,
      });
    } catch (err) {
      if (!(err instanceof HttpTransportError)) {
        told({ sent: true, state: 'no_answer', code: 'internal_error' });
        throw err;
      }
      reached = err.sent;
      const code = err.kind === 'timeout' ? 'endpoint_timeout' : 'endpoint_unreachable';
      told(err.sent ? { sent: true, state: 'no_answer', code } : { sent: false });
      const stop = !mayRetry(opts, err.sent);
      lastError = new WifError(code, `token endpoint ${url}: ${err.message}${stop && attempt + 1 < opts.retry.attempts ? '; not sent again: the assertion is single use and may have reached the endpoint' : ''}`, {
        hint: stop
          ? 'check the endpoint and network, then retry once the identity source has a fresh JWT (`claude-wif cache forget` sends this one again if you know it was not consumed)'
          : 'check network access to the base URL, proxy settings (HTTPS_PROXY/NO_PROXY) and that base_url is right',
        details: { sent: err.sent },
      });
      if (stop || !(await backoff(opts, attempt, undefined, lastError))) break;
      continue;
    }
    reached = true;
    const requestId = header(res, 'request-id');
    if (res.status >= 200 && res.status < 300) {
      try {
        const ok = parseSuccess(res, opts.clock, requestId);
        told({ sent: true, state: 'accepted', status: res.status });
        return ok;
      } catch (err) {
        told({ sent: true, state: 'failed', status: res.status, code: (err as WifError).code });
        throw err;
      }
    }
    if (res.status === 429 || res.status >= 500) {
      lastError = errorForStatus(res, url, requestId);
      told({ sent: true, state: 'failed', status: res.status, code: lastError.code });
      if (!mayRetry(opts, true) || !(await backoff(opts, attempt, header(res, 'retry-after'), lastError))) break;
      continue;
    }
    if (res.status >= 300 && res.status < 400) {
      told({ sent: true, state: 'failed', status: res.status, code: 'endpoint_failed' });
      throw new WifError('endpoint_failed', `token endpoint ${url} answered ${res.status} with a redirect${header(res, 'location') ? ` to ${header(res, 'location')}` : ''}; the assertion is never sent to a redirected location`, {
        hint: 'set base_url to the final https URL of the API',
        details: { status: res.status, request_id: requestId },
      });
    }
    if (res.status === 400 || res.status === 401 || res.status === 403) {
      const denied = deniedError(res, req, requestId);
      told({ sent: true, state: 'refused', status: res.status, code: denied.code });
      throw denied;
    }
    const other = errorForStatus(res, url, requestId);
    told({ sent: true, state: 'failed', status: res.status, code: other.code });
    throw other;
  }
  throw lastError ?? new WifError('endpoint_timeout', `token endpoint ${url}: the deadline passed before an answer came`);
}

/** A single-use assertion that may have reached the endpoint is retried only with a fresh one. */
function mayRetry(opts: ExchangeOptions, sent: boolean): boolean {
  return !sent || !opts.singleUse || opts.nextAssertion !== undefined;
}

/** Waits before the next attempt; false when there is no attempt or no time left. */
async function backoff(opts: ExchangeOptions, attempt: number, retryAfter: string | undefined, err: WifError): Promise<boolean> {
  if (attempt + 1 >= opts.retry.attempts) return false;
  const delay = retryDelay(opts.retry, attempt, retryAfter, opts.clock);
  // A Retry-After beyond the deadline means the answer will not come in time: fail now, clearly.
  if (opts.clock.now() + delay >= opts.retry.deadline) return false;
  opts.log.info(`${err.message}; retrying in ${(delay / 1000).toFixed(1)}s`);
  await opts.clock.sleep(delay);
  return true;
}

function parseSuccess(res: HttpResponse, clock: Clock, requestId: string | undefined): ExchangeResult {
  const bad = (why: string) =>
    new WifError('invalid_response', `token endpoint answered ${res.status} but ${why}`, {
      hint: 'base_url may point at something other than the Anthropic API (a proxy or captive portal?)',
      details: { status: res.status, request_id: requestId },
    });
  if (res.truncated) throw bad('the body is larger than 1 MiB');
  let data: unknown;
  try {
    data = JSON.parse(res.body.toString('utf8'));
  } catch {
    throw bad('the body is not JSON');
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw bad('the body is not a JSON object');
  const d = data as Record<string, unknown>;
  if (typeof d['access_token'] !== 'string' || !d['access_token']) throw bad('it has no access_token');
  // Never quote the value: it may be a real token with one bad character, or an echo of something secret.
  if (!isTokenText(d['access_token'])) {
    throw bad(`its access_token is not a bearer token (${String(d['access_token']).length} characters, outside RFC 6750's token characters or longer than ${MAX_TOKEN_LENGTH}); it is neither printed nor cached`);
  }
  const tokenType = d['token_type'];
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) {
    throw bad(`token_type is ${JSON.stringify(tokenType)}, not Bearer`);
  }
  const expiresIn = Number(d['expires_in']);
  if (d['expires_in'] === undefined || d['expires_in'] === null || !Number.isFinite(expiresIn)) throw bad('expires_in is missing or not a number');
  // An already-expired token would be printed with exit 0 and cached as if it were good.
  if (expiresIn <= 0) throw bad(`expires_in is ${expiresIn}: the token would already be expired`);
  const nowS = clock.now() / 1000;
  // Finite is not enough: an expiry no date can hold (|t| > 8.64e12 s) would be written to the
  // cache and break every reader that formats it (found by test/unit/fuzz.test.ts).
  if (isoTime(nowS + expiresIn) === undefined) throw bad(`expires_in ${expiresIn} puts the expiry out of any date's range`);
  return {
    accessToken: d['access_token'],
    expiresIn,
    expiresAt: Math.floor(nowS + expiresIn),
    scope: typeof d['scope'] === 'string' ? d['scope'] : undefined,
    requestId,
  };
}
