import { isIP } from 'node:net';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { WifError } from '../util/errors.js';

/** Where a claude-wif server (proxy, health) listens. */
export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** The loopback addresses a credential-serving listener may bind. */
export const LOOPBACK_HOSTS = ['127.0.0.1', '::1'] as const;

/**
 * Parses `--listen`-style values: `127.0.0.1:8787`, `[::1]:8787`, `localhost:8787`, `:8787` or
 * `8787` (host `defaultHost`), `unix:/path/to.sock` or an absolute path (a unix socket).
 * With `loopbackOnly`, anything but 127.0.0.1 / ::1 / localhost / a unix socket is refused: the
 * proxy lends a federated identity to whoever holds its secret, so it never faces a network.
 */
export function parseListen(value: string, opts: { flag: string; defaultHost: string; loopbackOnly: boolean; cwd?: string }): ListenAddress {
  const v = value.trim();
  const bad = (why: string): never => {
    throw new WifError('usage_error', `${opts.flag} ${JSON.stringify(value)}: ${why}`, {
      hint: `use host:port (e.g. ${opts.flag} 127.0.0.1:8787, or port 0 for a free one)${opts.loopbackOnly ? ' on 127.0.0.1 or [::1]' : ''}, or unix:/path/to.sock`,
    });
  };
  if (v === '') bad('empty address');
  if (v.startsWith('unix:') || isAbsolute(v)) {
    const p = v.startsWith('unix:') ? v.slice(5).replace(/^\/\/(?=\/)/, '') : v;
    if (p === '') bad('empty socket path');
    return { kind: 'unix', path: resolvePath(opts.cwd ?? process.cwd(), p) };
  }
  let host: string;
  let portText: string;
  const m6 = /^\[([^\]]+)\]:(\d+)$/.exec(v);
  if (m6) {
    host = m6[1]!;
    portText = m6[2]!;
  } else if (/^\d+$/.test(v)) {
    host = opts.defaultHost;
    portText = v;
  } else {
    const i = v.lastIndexOf(':');
    if (i < 0) return bad('no port');
    host = v.slice(0, i) || opts.defaultHost;
    portText = v.slice(i + 1);
    if (host.includes(':')) bad('put an IPv6 address in brackets: [::1]:8787');
  }
  if (!/^\d+$/.test(portText)) bad('the port is not a number');
  const port = Number(portText);
  if (port > 65_535) bad('the port is out of range');
  if (host === 'localhost') host = '127.0.0.1';
  if (isIP(host) === 0) bad(`${JSON.stringify(host)} is not an IP address (name resolution is not used for listeners)`);
  if (opts.loopbackOnly && !(LOOPBACK_HOSTS as readonly string[]).includes(host)) {
    throw new WifError('usage_error', `${opts.flag} ${JSON.stringify(value)}: the proxy listens on loopback only (127.0.0.1 or [::1]) or on a unix socket`, {
      hint: 'it hands a federated identity to whoever presents its secret, so it must never face a network; containers in one pod share loopback, so a sidecar proxy on 127.0.0.1 serves them all',
    });
  }
  return { kind: 'tcp', host, port };
}

export const hostForUrl = (host: string): string => (host.includes(':') ? `[${host}]` : host);

export function describeListen(a: ListenAddress): string {
  return a.kind === 'unix' ? `unix:${a.path}` : `${hostForUrl(a.host)}:${a.port}`;
}
