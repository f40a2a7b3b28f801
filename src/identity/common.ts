import { readEnv } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { header, httpRequest, HttpTransportError, type HttpRequest, type HttpResponse } from '../util/http.js';
import { redact } from '../util/redact.js';
import type { IdentityContext } from './source.js';

/** Helpers shared by the network and command sources: one way to fail, to retry and to time out. */

/**
 * Deadline for metadata-server and link-local requests: short, because a metadata server either
 * answers at once or is not there (CLAUDE_WIF_METADATA_TIMEOUT_MS, default 5 s, never more than
 * the request timeout).
 */
export function metadataTimeout(ctx: IdentityContext): number {
  const v = Number(readEnv(ctx.env, 'CLAUDE_WIF_METADATA_TIMEOUT_MS'));
  return Math.min(ctx.timeoutMs, Number.isFinite(v) && v > 0 ? v : 5_000);
}

export interface SourceRequest extends HttpRequest {
  /** Source name, first word of every message. */
  source: string;
  /** What is being asked, for messages ("the GitHub Actions OIDC endpoint"). */
  what: string;
  /** The one-line fix when the endpoint cannot be reached. */
  fix: string;
  /** Statuses worth another try (default 429 and 5xx). */
  retryOn?: (status: number) => boolean;
  /** Attempts in all (default 3). */
  attempts?: number;
}

const defaultRetryOn = (status: number) => status === 429 || status >= 500;

/**
 * One identity request with bounded retries on 429/5xx (Retry-After honoured up to 5 s, else
 * 250 ms, 500 ms …). Transport failures are final: an endpoint that refuses connections or does
 * not answer within the deadline will not do better a moment later, and metadata probes rely on
 * failing fast. The caller's overall deadline (ctx.deadline) caps every request and is never
 * waited past: a retry that could only start after it is not made. Returns any other response
 * for the caller to judge.
 */
export async function sourceRequest(ctx: IdentityContext, r: SourceRequest): Promise<HttpResponse> {
  const attempts = r.attempts ?? 3;
  const retryOn = r.retryOn ?? defaultRetryOn;
  const host = safeHost(r.url, r.socketPath);
  const left = (): number => (ctx.deadline === undefined ? Infinity : ctx.deadline - ctx.clock.now());
  let last: HttpResponse | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const timeoutMs = Math.min(r.timeoutMs, left());
    if (timeoutMs <= 0) {
      if (last) break; // reported below as "kept failing"
      throw new WifError('endpoint_timeout', `${r.source}: ${r.what} (${host}) was not asked: the deadline had already passed`, { hint: r.fix, details: { source: r.source, sent: false } });
    }
    try {
      ctx.log.debug(`${r.source}: ${r.method ?? 'GET'} ${redact(stripQuery(r.url))}${r.socketPath ? ` via ${r.socketPath}` : ''} (attempt ${attempt + 1}/${attempts})`);
      last = await httpRequest({ ...r, timeoutMs });
    } catch (err) {
      if (!(err instanceof HttpTransportError)) throw err;
      throw new WifError(err.kind === 'timeout' ? 'endpoint_timeout' : 'endpoint_unreachable', `${r.source}: ${r.what} (${host}) ${err.kind === 'timeout' ? `did not answer within ${timeoutMs} ms` : `cannot be reached: ${err.errno ?? err.message}`}`, {
        hint: r.fix,
        details: { source: r.source, sent: err.sent },
      });
    }
    if (!retryOn(last.status) || attempt + 1 >= attempts) break;
    const retryAfter = Number(header(last, 'retry-after'));
    const delay = Number.isFinite(retryAfter) && retryAfter >= 0 ? Math.min(retryAfter * 1000, 5_000) : 250 * 2 ** attempt;
    // The next answer could only come after the deadline: report this one now rather than sleep.
    if (delay >= left()) break;
    ctx.log.debug(`${r.source}: ${r.what} answered ${last.status}; retrying in ${delay} ms`);
    await ctx.clock.sleep(delay);
  }
  if (last && retryOn(last.status)) {
    throw new WifError('endpoint_failed', `${r.source}: ${r.what} (${host}) kept failing: HTTP ${last.status}${bodyDetail(last)}`, {
      hint: r.fix,
      details: { source: r.source, status: last.status },
    });
  }
  return last!;
}

/**
 * identity_unavailable for a 4xx (or other unexpected) answer, with a short redacted excerpt of
 * why. A redirect is endpoint_failed, as for the token endpoint (README error codes): it is never
 * followed, since a metadata or token request (and its answer, a credential) must reach the
 * platform itself, not wherever a misconfigured or hostile peer points.
 */
export function statusError(source: string, what: string, res: HttpResponse, hint: string): WifError {
  if (res.status >= 300 && res.status < 400) {
    const location = header(res, 'location');
    return new WifError('endpoint_failed', `${source}: ${what} answered HTTP ${res.status}, a redirect${location ? ` to ${stripQuery(location)}` : ''}; redirects are not followed`, {
      hint: `point the source at the endpoint itself (the URL the redirect names, if you trust it); ${hint}`,
      details: { source, status: res.status },
    });
  }
  return new WifError('identity_unavailable', `${source}: ${what} answered HTTP ${res.status}${bodyDetail(res)}`, {
    hint,
    details: { source, status: res.status },
  });
}

/** ": <error> <error_description>" from a JSON error body, or the first line of a text body; redacted. */
export function bodyDetail(res: HttpResponse): string {
  const text = res.body.toString('utf8').trim();
  if (!text) return '';
  let detail: string | undefined;
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of ['error', 'error_description', 'message', 'Message', 'errorSummary']) {
      const v = json[key];
      if (typeof v === 'string') parts.push(v);
      else if (v && typeof v === 'object' && typeof (v as Record<string, unknown>)['message'] === 'string') parts.push((v as Record<string, string>)['message']!);
    }
    detail = parts.join(': ');
  } catch {
    const xml = /<Code>([^<]{1,100})<\/Code>[\s\S]*?<Message>([^<]{0,300})<\/Message>/.exec(text);
    detail = xml ? `${xml[1]}: ${xml[2]}` : text.split('\n')[0];
  }
  if (!detail) return '';
  // Endpoints may echo what they were sent: redact, and keep it short.
  const short = redact(detail).replace(/\s+/g, ' ');
  return ` (${short.length > 300 ? `${short.slice(0, 300)}…` : short})`;
}

/** Parses a JSON object body or fails with identity_invalid naming the source. */
export function jsonBody(source: string, what: string, res: HttpResponse): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(res.body.toString('utf8'));
  } catch {
    throw new WifError('identity_invalid', `${source}: ${what} answered HTTP ${res.status} with a body that is not JSON`, {
      hint: 'check that the endpoint URL points at the platform itself, not a proxy or captive portal',
    });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new WifError('identity_invalid', `${source}: ${what} answered with JSON that is not an object`);
  }
  return value as Record<string, unknown>;
}

/** The JWT in `field` of a JSON answer, or identity_invalid. */
export function jwtField(source: string, what: string, body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v.trim() === '') {
    throw new WifError('identity_invalid', `${source}: ${what} answered without a "${field}" string`, {
      hint: 'the endpoint is not speaking the expected protocol; check its URL',
    });
  }
  return v.trim();
}

/**
 * Refuses to send a credential (a client assertion) over plain http, except to loopback: the same
 * transport rule the token exchange follows (spec §2).
 */
export function requireHttps(source: string, url: string, what: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WifError('config_invalid', `${source}: ${what} ${JSON.stringify(url)} is not a URL`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (u.protocol === 'https:' || (u.protocol === 'http:' && (host === 'localhost' || host === '127.0.0.1' || host === '::1'))) return;
  throw new WifError('insecure_endpoint', `${source}: refusing to send a client assertion to ${what} ${u.origin} over ${u.protocol.replace(':', '')}`, {
    hint: 'use an https:// URL',
  });
}

/** Host (or socket) for messages: never the query, which may carry an audience or a token. */
function safeHost(url: string, socketPath: string | undefined): string {
  if (socketPath) return `unix:${socketPath}`;
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

function stripQuery(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : `${url.slice(0, i)}?…`;
}

/** The payload of a compact JWS, without verifying anything; undefined when it is not one. */
export function decodePayload(value: string | undefined): Record<string, unknown> | undefined {
  if (!value) return undefined;
  const parts = value.trim().split('.');
  if (parts.length !== 3 || !parts[0]!.startsWith('eyJ')) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    return payload && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** True when the JWT's `aud` (string or array) contains `audience`. */
export function audienceMatches(payload: Record<string, unknown>, audience: string): boolean {
  const aud = payload['aud'];
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}
