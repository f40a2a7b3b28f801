import type { Clock } from './clock.js';
import { sendRequest, type HttpRequest, type HttpResponse } from './http-transport.js';
import { proxyFor } from './proxy-policy.js';

export { HttpTransportError, type HttpRequest, type HttpResponse } from './http-transport.js';

/**
 * One HTTP exchange with an explicit deadline and a body cap. Redirects are never followed
 * (node:http does not follow them; callers decide what a 3xx means). node:http rather than fetch:
 * fetch would load undici on every invocation and cannot bound a body without streaming it anyway.
 */
export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.url);
  const proxy = req.socketPath ? undefined : proxyFor(url, req.proxyEnv ?? process.env);
  if (proxy) {
    // The tunnel code is loaded only when a proxy variable applies to this request.
    const { httpRequestViaProxy } = await import('./http-via-proxy.js');
    return httpRequestViaProxy(req, url, proxy);
  }
  const mod = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  // agent: false: never reuse a pooled connection between requests; keeps deadlines honest.
  return sendRequest(mod.request, url, { ...(req.socketPath ? { socketPath: req.socketPath } : {}), agent: false }, req);
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Give up rather than wait past this point (ms since epoch on the clock). */
  deadline: number;
}

/** Delay before the next attempt: Retry-After when the server gave one, else exponential backoff with full jitter. */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfter: string | undefined, clock: Clock, random = Math.random): number {
  if (retryAfter !== undefined) {
    const secs = Number(retryAfter);
    // Honoured as given: retrying sooner than the server asked only earns another refusal. The
    // caller gives up instead when the wait would pass its deadline.
    if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(0, date - clock.now());
  }
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(cap / 2 + random() * (cap / 2));
}
