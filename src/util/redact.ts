/**
 * The one redactor. Every log line and every error message passes through it, so a JWT,
 * an Anthropic token or a bearer credential can never reach stderr, a log or an exception.
 */

// A JWT is three base64url segments; the header of every JWS starts with `{"` → "eyJ".
// Matching from `eyJ` also catches JSON-escaped and URL-embedded copies (base64url needs no escaping).
const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;
// Anthropic secrets: sk-ant-oat01-…, sk-ant-api03-…, sk-ant-ort01-… and any future kind.
const ANTHROPIC = /sk-ant-[A-Za-z0-9]+-[A-Za-z0-9_-]+/g;
// `Bearer <anything>` in headers echoed into messages.
const BEARER = /(Bearer|bearer|BEARER)(\s+|%20|\\u0020)[^\s"',;\\]+/g;
// Values of JSON ("key": "v", also backslash-escaped) or form (key=v) fields that carry secrets,
// in case they hold something not matched above. Prose such as "the assertion: 401" is left alone.
const SECRET_KEYS = '(?:assertion|access_token|refresh_token|client_assertion|client_secret|id_token|identity_token|password|secret)';
const JSON_FIELDS = new RegExp(`(\\\\?"${SECRET_KEYS}\\\\?"\\s*:\\s*\\\\?")([^"\\\\]+)`, 'gi');
const FORM_FIELDS = new RegExp(`((?:^|[?&\\s])${SECRET_KEYS}=)([^&\\s"]+)`, 'gi');
// The password of a URL's userinfo (https://user:pw@host): base_url refuses it, and no other URL
// (a proxy variable, an identity endpoint) may show it either.
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s/:@"'\\]*:)[^\s/@"'\\]+@/gi;

const extraSecrets = new Set<string>();

/** Registers an exact value (a per-session proxy secret, a canary) to be redacted wherever it shows up. */
export function addSecret(value: string): void {
  if (value && value.length >= 8) extraSecrets.add(value);
}

export function redact(text: string): string {
  if (!text) return text;
  let out = text;
  for (const s of extraSecrets) {
    if (out.includes(s)) out = out.split(s).join('[redacted]');
  }
  return out
    .replace(JWT, 'eyJ…[redacted-jwt]')
    .replace(ANTHROPIC, (m) => `${m.slice(0, m.indexOf('-', 7) + 1)}…[redacted]`)
    .replace(BEARER, '$1 [redacted]')
    .replace(JSON_FIELDS, keep)
    .replace(FORM_FIELDS, keep)
    .replace(URL_PASSWORD, '$1[redacted]@');
}

function keep(_m: string, key: string, value: string): string {
  return value.startsWith('[redacted') || value.startsWith('eyJ…') || value.includes('…[redacted]') ? key + value : `${key}[redacted]`;
}

/** Redacts every string inside a JSON-like value (for --json reports). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}
