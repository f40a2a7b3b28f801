import { HttpTransportError } from './http-transport.js';

/**
 * Outbound proxy policy: the one place that decides whether a request goes through a proxy, and
 * which. util/http.ts follows it for every request.
 */

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

