import type { IncomingHttpHeaders } from 'node:http';
import type { Clock } from './clock.js';

export interface HttpRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Whole-request deadline (connect + headers + body). */
  timeoutMs: number;
  /** Read at most this many body bytes; the rest is discarded and `truncated` set. */
  maxBytes?: number;
  /** Unix socket to connect through instead of TCP (metadata agents, SPIFFE). */
  socketPath?: string;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  truncated: boolean;
}

/** A transport failure: nothing usable came back. `sent` tells whether the request may have reached the server. */
export class HttpTransportError extends Error {
  constructor(
    readonly kind: 'timeout' | 'network',
    message: string,
    readonly sent: boolean,
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'HttpTransportError';
  }
}

/**
 * One HTTP exchange with an explicit deadline and a body cap. Redirects are never followed
 * (node:http does not follow them; callers decide what a 3xx means). node:http rather than fetch:
 * fetch would load undici on every invocation and cannot bound a body without streaming it anyway.
 */
export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.url);
  const mod = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const maxBytes = req.maxBytes ?? 1 << 20;
  return new Promise<HttpResponse>((resolve, reject) => {
    let sent = false;
    let settled = false;
    const fail = (err: HttpTransportError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      reject(err);
    };
    const request = mod.request(
      url,
      {
        method: req.method ?? 'GET',
        headers: req.headers,
        ...(req.socketPath ? { socketPath: req.socketPath } : {}),
        // Never reuse a pooled connection between invocations' requests; keeps deadlines honest.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let received = 0;
        let truncated = false;
        res.on('data', (chunk: Buffer) => {
          if (truncated) return;
          if (received + chunk.length > maxBytes) {
            chunks.push(chunk.subarray(0, maxBytes - received));
            received = maxBytes;
            truncated = true;
            // Stop reading: a hostile or broken endpoint cannot make us buffer more than maxBytes.
            finish();
            res.destroy();
            return;
          }
          chunks.push(chunk);
          received += chunk.length;
        });
        const finish = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), truncated });
        };
        res.on('end', finish);
        res.on('error', (err) => fail(new HttpTransportError('network', `connection to ${url.host} failed while reading the response: ${err.message}`, true, (err as NodeJS.ErrnoException).code)));
        res.on('aborted', () => fail(new HttpTransportError('network', `connection to ${url.host} was reset while reading the response`, true, 'ECONNRESET')));
      },
    );
    const timer = setTimeout(() => {
      fail(new HttpTransportError('timeout', `no complete answer from ${url.host} within ${req.timeoutMs} ms`, sent));
    }, req.timeoutMs);
    request.on('error', (err: NodeJS.ErrnoException) => {
      fail(new HttpTransportError('network', `cannot reach ${url.host}: ${err.code ?? err.message}`, sent, err.code));
    });
    request.on('finish', () => {
      sent = true;
    });
    if (req.body !== undefined) request.write(req.body);
    request.end();
  });
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
