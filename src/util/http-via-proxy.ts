import { request as httpRequestFn, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequestFn } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import { HttpTransportError, sendRequest, type HttpRequest, type HttpResponse } from './http-transport.js';

/**
 * Requests through an HTTP(S) proxy, loaded only when HTTPS_PROXY / HTTP_PROXY applies.
 * https targets go through a CONNECT tunnel (the proxy sees only the host name and port; TLS is
 * end to end and verified against the target's name); http targets are sent to the proxy in
 * absolute form, as every proxy expects.
 */
export async function httpRequestViaProxy(req: HttpRequest, url: URL, proxy: URL): Promise<HttpResponse> {
  const started = Date.now();
  const auth = proxyAuthorization(proxy);
  if (url.protocol === 'http:') {
    const viaProxy = ((_u: URL, opts: RequestOptions, cb: (res: IncomingMessage) => void) =>
      (proxy.protocol === 'https:' ? httpsRequestFn : httpRequestFn)(
        {
          ...opts,
          protocol: proxy.protocol,
          hostname: stripBrackets(proxy.hostname),
          port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
          path: url.href,
          headers: { ...(opts.headers as Record<string, string>), host: url.host, ...(auth ? { 'proxy-authorization': auth } : {}) },
          agent: false,
        },
        cb,
      )) as unknown as typeof httpRequestFn;
    return sendRequest(viaProxy, url, {}, req);
  }
  const socket = await openTunnel(url, proxy, auth, Math.min(req.connectTimeoutMs ?? req.timeoutMs, req.timeoutMs));
  const remaining = Math.max(1, req.timeoutMs - (Date.now() - started));
  // node:http over the already-encrypted socket: the request is ordinary HTTP/1.1 inside the tunnel.
  const overTunnel = ((_u: URL, opts: RequestOptions, cb: (res: IncomingMessage) => void) =>
    httpRequestFn(
      {
        ...opts,
        protocol: 'http:',
        hostname: stripBrackets(url.hostname),
        port: url.port || 443,
        path: `${url.pathname}${url.search}`,
        headers: { ...(opts.headers as Record<string, string>), host: url.host },
        createConnection: () => socket,
      },
      cb,
    )) as unknown as typeof httpRequestFn;
  return sendRequest(overTunnel, url, {}, req, remaining);
}

function stripBrackets(host: string): string {
  return host.replace(/^\[|\]$/g, '');
}

export function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

/** CONNECT host:port through the proxy, then TLS to the target over that tunnel. */
export function openTunnel(url: URL, proxy: URL, auth: string | undefined, timeoutMs: number): Promise<Socket> {
  const host = stripBrackets(url.hostname);
  const port = url.port || '443';
  const authority = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  // The proxy's host (never the credentials in the proxy URL) for messages.
  const via = `proxy ${proxy.host}`;
  return new Promise<Socket>((resolve, reject) => {
    let settled = false;
    let connectReq: ClientRequest | undefined;
    const fail = (err: HttpTransportError, socket?: Socket) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      connectReq?.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new HttpTransportError('timeout', `no tunnel to ${url.host} through ${via} within ${timeoutMs} ms`, false)), timeoutMs);
    connectReq = (proxy.protocol === 'https:' ? httpsRequestFn : httpRequestFn)({
      protocol: proxy.protocol,
      hostname: stripBrackets(proxy.hostname),
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...(auth ? { 'proxy-authorization': auth } : {}) },
      agent: false,
    });
    connectReq.on('connect', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (res.statusCode !== 200) {
        fail(new HttpTransportError('network', `${via} refused to open a tunnel to ${url.host} (HTTP ${res.statusCode}${res.statusCode === 407 ? ': proxy authentication required' : ''})`, false, 'EPROXY'), socket);
        return;
      }
      if (head.length > 0) socket.unshift(head);
      const tls = tlsConnect({ socket, host, servername: isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'] });
      tls.once('secureConnect', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(tls);
      });
      tls.once('error', (err: NodeJS.ErrnoException) => fail(new HttpTransportError('network', `TLS to ${url.host} through ${via} failed: ${err.code ?? err.message}`, false, err.code), tls));
    });
    connectReq.on('error', (err: NodeJS.ErrnoException) => fail(new HttpTransportError('network', `cannot reach ${via}: ${err.code ?? err.message}`, false, err.code)));
    connectReq.end();
  });
}
