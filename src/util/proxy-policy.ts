import { HttpTransportError } from './http-transport.js';

/**
 * Outbound proxy policy: the one place that decides whether a request goes through a proxy, and
 * which. util/http.ts follows it for every request and doctor reports it (proxyRoute), so the two
 * cannot disagree.
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

/** The variables a proxy for each scheme is read from, lower case first (as curl and undici do). */
const PROXY_VARS: Record<string, [string, string]> = { 'https:': ['https_proxy', 'HTTPS_PROXY'], 'http:': ['http_proxy', 'HTTP_PROXY'] };

/** How a request to one URL leaves this machine, and why (for the client and for doctor alike). */
export interface ProxyRoute {
  via: 'direct' | 'proxy' | 'error';
  /**
   * local: loopback, link-local or a metadata host (never proxied); unset: no proxy variable for
   * the URL's scheme; no_proxy: a NO_PROXY entry matched; proxy: through `proxy`; invalid: the
   * variable holds no usable proxy URL (the request fails with `error`).
   */
  why: 'local' | 'unset' | 'unsupported_scheme' | 'no_proxy' | 'proxy' | 'invalid';
  /** The variable the proxy came from (https_proxy, HTTPS_PROXY, http_proxy, HTTP_PROXY), when one is set. */
  variable?: string;
  /** Its value as written (may carry user:password: show it with shownProxy only). */
  value?: string;
  proxy?: URL;
  noProxyVariable?: string;
  noProxyEntry?: string;
  error?: HttpTransportError;
  /** Proxy variables that are set but not followed for this URL. */
  ignored: IgnoredVariable[];
}

/** A proxy variable that is set but not followed, and the reason (shown by doctor). */
export interface IgnoredVariable {
  name: string;
  why: string;
}

/**
 * The route for `url` per HTTPS_PROXY / HTTP_PROXY and NO_PROXY (lower case first, as curl and
 * undici read them). ALL_PROXY is never followed (it usually names a SOCKS proxy, which this
 * client does not speak). A proxy value without a scheme means http://. NO_PROXY entries: `*`,
 * host names (a leading `.` or `*.` is optional and matches subdomains), IP addresses, `host:port`.
 */
export function proxyRoute(url: URL, env: Record<string, string | undefined>): ProxyRoute {
  const read = (name: string) => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  // The lower-case variable wins whenever it is present, even empty (an empty https_proxy turns
  // the proxy off whatever HTTPS_PROXY says, as in curl).
  const pick = (lower: string, upper: string) => (env[lower] !== undefined ? lower : env[upper] !== undefined ? upper : undefined);
  const ignored: IgnoredVariable[] = [];
  const shadowed = (lower: string, upper: string) => {
    if (pick(lower, upper) === lower && read(upper) !== undefined && read(upper) !== read(lower)) ignored.push({ name: upper, why: `${lower} is also set${read(lower) === undefined ? ' (empty)' : ''} and wins` });
  };
  for (const name of ['all_proxy', 'ALL_PROXY']) {
    if (read(name) !== undefined) ignored.push({ name, why: 'ALL_PROXY is not followed (only HTTPS_PROXY for https and HTTP_PROXY for http)' });
  }
  const names = PROXY_VARS[url.protocol];
  if (!names) return { via: 'direct', why: 'unsupported_scheme', ignored };
  const [lower, upper] = names;
  shadowed(lower, upper);
  const picked = pick(lower, upper);
  const variable = picked !== undefined && read(picked) !== undefined ? picked : undefined;
  const value = variable ? read(variable) : undefined;
  const set = variable && value ? { variable, value } : {};
  if (isLocalHost(url.hostname)) return { via: 'direct', why: 'local', ...set, ignored };
  if (!variable || !value) return { via: 'direct', why: 'unset', ignored };
  shadowed('no_proxy', 'NO_PROXY');
  const noProxyPicked = pick('no_proxy', 'NO_PROXY');
  const noProxyVariable = noProxyPicked !== undefined && read(noProxyPicked) !== undefined ? noProxyPicked : undefined;
  const noProxyEntry = noProxyVariable ? bypassEntry(url, read(noProxyVariable)!) : undefined;
  if (noProxyVariable && noProxyEntry !== undefined) {
    return { via: 'direct', why: 'no_proxy', variable, value, noProxyVariable, noProxyEntry, ignored };
  }
  let proxy: URL;
  try {
    proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    return { via: 'error', why: 'invalid', variable, value, error: new HttpTransportError('network', `the proxy URL in ${upper} is not a URL`, false, 'EPROXYURL'), ignored };
  }
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    return { via: 'error', why: 'invalid', variable, value, error: new HttpTransportError('network', `proxy scheme ${proxy.protocol} is not supported (use an http:// or https:// proxy)`, false, 'EPROXYURL'), ignored };
  }
  return { via: 'proxy', why: 'proxy', variable, value, proxy, ignored };
}

/** The proxy for `url`, or undefined to connect directly; throws when the proxy variable is unusable. */
export function proxyFor(url: URL, env: Record<string, string | undefined>): URL | undefined {
  const route = proxyRoute(url, env);
  if (route.error) throw route.error;
  return route.via === 'proxy' ? route.proxy : undefined;
}

/** A proxy value for display: scheme, host and port, never the credentials it may carry. */
export function shownProxy(raw: string): string {
  try {
    const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
    return `${u.protocol}//${u.username || u.password ? '***@' : ''}${u.host}`;
  } catch {
    return '(not a URL)';
  }
}

/** The NO_PROXY entry that sends `url` direct, or undefined. */
function bypassEntry(url: URL, noProxy: string): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const original of noProxy.split(/[\s,]+/)) {
    let entry = original.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return original;
    let entryPort: string | undefined;
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (m) {
      entry = m[1]!;
      entryPort = m[2];
    }
    entry = entry.replace(/^\[|\]$/g, '').replace(/^\*?\./, '');
    if (entryPort && entryPort !== port) continue;
    if (host === entry || host.endsWith(`.${entry}`)) return original;
  }
  return undefined;
}
