import { WifError } from '../util/errors.js';
import { redact } from '../util/redact.js';
import type { HttpResponse } from '../util/http.js';
import type { ExchangeRequest } from './token-endpoint.js';

export const AUTH_HISTORY_URL = 'https://platform.claude.com/settings/workload-identity-federation?tab=history';
const MAX_TEXT = 300;

interface ParsedError {
  /** "authentication_error", "invalid_request_error", "invalid_grant", … */
  type?: string | undefined;
  message?: string | undefined;
}

/**
 * Keeps only the fields an error body is allowed to contribute: the Anthropic shape's
 * error.type/error.message, or RFC 6749's error/error_description. Anything else may be an echo
 * of the assertion, so it is dropped; text bodies are truncated and redacted.
 */
export function parseErrorBody(res: HttpResponse): ParsedError & { text?: string } {
  const text = res.body.toString('utf8');
  try {
    const data = JSON.parse(text) as Record<string, unknown>;
    const err = data['error'];
    if (err && typeof err === 'object') {
      const e = err as Record<string, unknown>;
      return { type: str(e['type']), message: str(e['message']) };
    }
    if (typeof err === 'string') return { type: err, message: str(data['error_description']) };
    return {};
  } catch {
    return { text: clip(redact(text).replace(/\s+/g, ' ').trim()) };
  }
}

// Redact first, then clip: clipping first can cut an echoed JWT after its payload's first
// characters, and "header.half-a-payload" no longer looks like a JWT to the redactor (found by the
// fault matrix, test/e2e/fault-matrix.test.ts).
const str = (v: unknown) => (typeof v === 'string' ? clip(redact(v)) : undefined);

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}… (${text.length - MAX_TEXT} more characters)` : text;
}

function describe(res: HttpResponse, parsed: ParsedError & { text?: string }, requestId: string | undefined): string {
  const parts = [String(res.status)];
  if (parsed.type) parts.push(parsed.type);
  let s = parts.join(' ');
  if (parsed.message) s += `: ${parsed.message}`;
  else if (parsed.text) s += `: ${parsed.text}`;
  if (requestId) s += ` (request-id ${requestId})`;
  return s;
}

/** 400/401/403 from the token endpoint. Both the current and the older denial shapes mean "assertion denied". */
export function deniedError(res: HttpResponse, req: ExchangeRequest, requestId: string | undefined): WifError {
  const parsed = parseErrorBody(res);
  const details = { status: res.status, error_type: parsed.type, request_id: requestId };
  const isDenial =
    res.status === 401 ||
    res.status === 403 ||
    parsed.type === 'invalid_grant' ||
    (parsed.type === 'invalid_request' && /workspace_id_required/.test(parsed.message ?? ''));
  if (!isDenial) {
    return new WifError('exchange_bad_request', `the token endpoint rejected the request as malformed: ${describe(res, parsed, requestId)}`, {
      hint: 'check the ids in the profile (fdrl_…, svac_…, wrkspc_… or "default", an organization UUID); this attempt is not in the Console\'s authentication history',
      details,
    });
  }
  if (res.status === 403) {
    return new WifError('exchange_denied', `the token endpoint refused the exchange: ${describe(res, parsed, requestId)}`, {
      hint: `the federation rule or service account may not be allowed this scope or workspace; see ${AUTH_HISTORY_URL}`,
      details,
    });
  }
  const steps = [
    'check that the federation rule matches this JWT (issuer URL byte for byte, subject prefix, audience, claims)',
    req.workspaceId ? undefined : 'if the rule is enabled for several workspaces, set ANTHROPIC_WORKSPACE_ID or workspace_id',
    'a JWT whose jti was already exchanged is refused too (single use)',
    `the reason is in the Console's authentication history: ${AUTH_HISTORY_URL}${requestId ? ` (request-id ${requestId})` : ''}`,
  ].filter(Boolean);
  return new WifError('exchange_denied', `the token endpoint refused the assertion: ${describe(res, parsed, requestId)}`, {
    hint: steps.join('; '),
    details,
  });
}

/** 429, 5xx and anything else unexpected: the endpoint is failing, not refusing. */
export function errorForStatus(res: HttpResponse, url: string, requestId: string | undefined): WifError {
  const parsed = parseErrorBody(res);
  const hint =
    res.status === 404 || res.status === 405
      ? 'base_url probably does not point at the Anthropic API (expected POST /v1/oauth/token to exist)'
      : res.status === 429
        ? 'the token endpoint is rate limiting; wait and retry, and make sure callers reuse cached tokens'
        : 'the token endpoint is failing; retry later';
  return new WifError('endpoint_failed', `token endpoint ${url} answered ${describe(res, parsed, requestId)}`, {
    hint,
    details: { status: res.status, error_type: parsed.type, request_id: requestId },
  });
}
