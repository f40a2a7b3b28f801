import type { IncomingHttpHeaders, RequestOptions } from 'node:http';

/**
 * The shape of one HTTP exchange and the code that performs it over a given request function
 * (node:http, node:https, or node:http over a proxy tunnel). util/http.ts picks the route;
 * util/http-via-proxy.ts builds the proxied ones; both send through sendRequest here.
 */

export interface HttpRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Whole-request deadline (connect + headers + body). */
  timeoutMs: number;
  /**
   * Give up on connecting after this long (never longer than timeoutMs). Once connected the request
   * may have reached the server, so the answer is then awaited until timeoutMs: a single-use
   * assertion that may have arrived must not be abandoned and sent again (issue 15 item 12).
   */
  connectTimeoutMs?: number;
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

/**
 * A transport failure: nothing usable came back. `sent` tells whether the request may have reached
 * the server: true as soon as a connection to it (or to the proxy carrying it) was established,
 * false only when no byte can have left this machine (refused, unresolvable, no connection in time).
 */
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

type RequestFn = typeof import('node:http').request;

/**
 * Sends `req` with `request` (node:http/https, or node:http over a proxy tunnel) and collects
 * the answer under the deadline and the body cap. `extra` is merged into the request options.
 */
export function sendRequest(requestFn: RequestFn, url: URL, extra: RequestOptions, req: HttpRequest, deadlineMs = req.timeoutMs): Promise<HttpResponse> {
  const maxBytes = req.maxBytes ?? 1 << 20;
  return new Promise<HttpResponse>((resolve, reject) => {
    let sent = false;
    let settled = false;
    const fail = (err: HttpTransportError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (connectTimer) clearTimeout(connectTimer);
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
          if (connectTimer) clearTimeout(connectTimer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), truncated });
        };
        res.on('end', finish);
        res.on('error', (err) => fail(new HttpTransportError('network', `connection to ${url.host} failed while reading the response: ${err.message}`, true, (err as NodeJS.ErrnoException).code)));
        res.on('aborted', () => fail(new HttpTransportError('network', `connection to ${url.host} was reset while reading the response`, true, 'ECONNRESET')));
      },
    );
    const timer = setTimeout(() => {
      fail(new HttpTransportError('timeout', `${sent ? 'no complete answer from' : 'no connection to'} ${url.host} within ${req.timeoutMs} ms`, sent));
    }, deadlineMs);
    const connectMs = req.connectTimeoutMs === undefined ? undefined : Math.min(req.connectTimeoutMs, deadlineMs);
    const connectTimer =
      connectMs === undefined || connectMs >= deadlineMs
        ? undefined
        : setTimeout(() => {
            if (!sent) fail(new HttpTransportError('timeout', `no connection to ${url.host} within ${connectMs} ms`, false));
          }, connectMs);
    const connected = () => {
      sent = true;
      if (connectTimer) clearTimeout(connectTimer);
    };
    request.on('close', () => connectTimer && clearTimeout(connectTimer));
    request.on('socket', (socket) => {
      // TLS: no request byte is written before the handshake completes.
      const tls = (socket as { encrypted?: boolean }).encrypted === true;
      if (socket.connecting) socket.once(tls ? 'secureConnect' : 'connect', connected);
      else if (tls && (socket as { _secureEstablished?: boolean })._secureEstablished === false) socket.once('secureConnect', connected);
      else connected(); // an established socket (a proxy tunnel): the request goes out now
    });
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

