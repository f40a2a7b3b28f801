import type { IncomingMessage, ServerResponse } from 'node:http';

/** The error `type`s the Anthropic API uses in its standard error body. */
export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

/** The standard Anthropic error body; `request_id` always equals the `request-id` response header. */
export function errorBody(type: ApiErrorType, message: string, requestId: string): Record<string, unknown> {
  return { type: 'error', error: { type, message }, request_id: requestId };
}

/** A finished answer, decoupled from the socket so handlers can be unit-reasoned and recorded. */
export interface Reply {
  status: number;
  /** Serialised as JSON unless it is a string (then sent verbatim). `undefined` → empty body. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Node gives lower-cased names already; repeated headers are joined the way fetch joins them. */
export function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** An `anthropic-beta` header is a comma list; the SDKs merge betas into it, so test membership, not equality. */
export function hasBeta(headers: Record<string, string>, beta: string): boolean {
  const raw = headers['anthropic-beta'];
  if (!raw) return false;
  return raw.split(',').some((b) => b.trim() === beta);
}

export class BodyTooLargeError extends Error {}

/** Reads the request body, refusing more than `limit` bytes so a runaway client cannot exhaust memory. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new BodyTooLargeError(`request body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        reject(err);
      }
    });
  });
}

/** Parses JSON without throwing; `undefined` means "not JSON". */
export function tryParseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Writes a Reply. Strings go out verbatim (faults use this for HTML and other non-JSON bodies). */
export function sendReply(res: ServerResponse, reply: Reply, requestId: string, method = 'GET'): void {
  const headers: Record<string, string> = { 'request-id': requestId, ...(reply.headers ?? {}) };
  let payload: string | undefined;
  if (typeof reply.body === 'string') {
    payload = reply.body;
    if (!hasHeader(headers, 'content-type')) headers['content-type'] = guessContentType(payload);
  } else if (reply.body !== undefined) {
    payload = JSON.stringify(reply.body);
    if (!hasHeader(headers, 'content-type')) headers['content-type'] = 'application/json';
  }
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  // HEAD answers carry the headers of the GET they stand for, never a body.
  res.end(method === 'HEAD' ? undefined : payload);
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}

function guessContentType(body: string): string {
  const trimmed = body.trimStart();
  if (trimmed.startsWith('<')) return 'text/html; charset=utf-8';
  return tryParseJson(body) === undefined ? 'text/plain; charset=utf-8' : 'application/json';
}
