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
  /**
   * Where HTTPS_PROXY / HTTP_PROXY / NO_PROXY are read (default: process.env). Loopback,
   * link-local, metadata hosts and unix sockets never go through a proxy, whatever it says.
   */
  proxyEnv?: Record<string, string | undefined>;
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
  const proxy = req.socketPath ? undefined : proxyFor(url, req.proxyEnv ?? process.env);
  if (proxy) {
    // The tunnel code is loaded only when a proxy variable applies to this request.
    const { httpRequestViaProxy } = await import('./proxy.js');
    return httpRequestViaProxy(req, url, proxy);
  }
  const mod = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  // agent: false: never reuse a pooled connection between requests; keeps deadlines honest.
  return sendRequest(mod.request, url, { ...(req.socketPath ? { socketPath: req.socketPath } : {}), agent: false }, req);
}

type RequestFn = typeof import('node:http').request;

/**
 * Sends `req` with `request` (node:http/https, or node:http over a proxy tunnel) and collects
 * the answer under the deadline and the body cap. `extra` is merged into the request options.
 */
export function sendRequest(requestFn: RequestFn, url: URL, extra: import('node:http').RequestOptions, req: HttpRequest, deadlineMs = req.timeoutMs): Promise<HttpResponse> {
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
    const request = requestFn(
      url,
      {
        method: req.method ?? 'GET',
        headers: req.headers,
        ...extra,
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
    }, deadlineMs);
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

/**
 * Hosts that are never reached through a proxy: loopback, link-local (cloud metadata servers
 * live at 169.254.169.254 / fd00:ec2::254) and the metadata host names. A proxy would at best
 * fail and at worst see a metadata request (and its answer, a credential).
 */
export function isLocalHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === 'metadata.google.internal' || h === 'metadata' || h === 'instance-data' || h === 'instance-data.ec2.internal') return true;
  if (/^127\.\d+\.\d+\.\d+$/.test(h) || /^169\.254\.\d+\.\d+$/.test(h)) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1' || /^fe[89ab][0-9a-f]?:/.test(h) || h === 'fd00:ec2::254') return true;
  if (/^::ffff:(127|169\.254)\./.test(h)) return true;
  return false;
}

/**
 * The proxy for `url` per HTTPS_PROXY / HTTP_PROXY and NO_PROXY (lower case first, as curl and
 * undici read them), or undefined to connect directly. NO_PROXY entries: `*`, host names (a
 * leading `.` or `*.` is optional and matches subdomains), IP addresses, `host:port`.
 */
export function proxyFor(url: URL, env: Record<string, string | undefined>): URL | undefined {
  if (isLocalHost(url.hostname)) return undefined;
  const read = (name: string) => {
    const v = env[name.toLowerCase()] ?? env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const raw = url.protocol === 'https:' ? read('HTTPS_PROXY') : url.protocol === 'http:' ? read('HTTP_PROXY') : undefined;
  if (!raw) return undefined;
  const noProxy = read('NO_PROXY');
  if (noProxy && bypassesProxy(url, noProxy)) return undefined;
  let proxy: URL;
  try {
    proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new HttpTransportError('network', `the proxy URL in ${url.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY'} is not a URL`, false, 'EPROXYURL');
  }
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    throw new HttpTransportError('network', `proxy scheme ${proxy.protocol} is not supported (use an http:// or https:// proxy)`, false, 'EPROXYURL');
  }
  return proxy;
}

function bypassesProxy(url: URL, noProxy: string): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (let entry of noProxy.split(/[\s,]+/)) {
    entry = entry.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let entryPort: string | undefined;
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (m) {
      entry = m[1]!;
      entryPort = m[2];
    }
    entry = entry.replace(/^\[|\]$/g, '').replace(/^\*?\./, '');
    if (entryPort && entryPort !== port) continue;
    if (host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
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
