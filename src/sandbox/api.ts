import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ACCESS_TOKEN_PREFIX, OAUTH_BETA } from '../protocol.js';
import type { IssuedToken, TokenStore } from './token-endpoint.js';
import {
  BodyTooLargeError,
  errorBody,
  flattenHeaders,
  hasBeta,
  isPlainObject,
  readBody,
  sendReply,
  tryParseJson,
  type ApiErrorType,
  type Reply,
} from './http.js';

/**
 * The smallest slice of the Anthropic API that a federation token is used against: Messages
 * (plain and SSE), Models, and the probes Claude Code makes (spec §5). Its job is to enforce the
 * bearer-token rules of spec §3 exactly, so a client that works here sends what the real API needs.
 */

const MAX_API_BODY_BYTES = 10 * 1024 * 1024;

export interface ApiCallRecord {
  /** Sandbox clock, ms since the epoch. */
  at: number;
  method: string;
  /** Path including the query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  /** Request headers, names lower-cased; credentials cut down to a prefix. */
  headers: Record<string, string>;
  status: number;
  request_id: string;
  /** The first characters of the bearer token (never the token itself). */
  token_prefix?: string;
  /** The workspace the token was minted for, when the token was recognised. */
  workspace_id?: string;
  /** Why the call was refused (a short code), when it was. */
  error?: string;
  /** True when the answer was an SSE stream. */
  stream?: boolean;
}

export interface ApiDeps {
  now: () => number;
  tokens: TokenStore;
  record: (call: ApiCallRecord) => void;
  /** Pause between SSE deltas, so clients really see a stream arrive in pieces. */
  streamDelayMs: number;
  /** Tracks timers so `close()` never waits on a stream in progress. */
  delay: (ms: number) => Promise<void>;
}

// A fixed, plausible catalogue: the sandbox never routes to a model, it only has to list some.
const MODELS = [
  { id: 'claude-opus-4-7', display_name: 'Claude Opus 4.7', created_at: '2026-01-01T00:00:00Z' },
  { id: 'claude-sonnet-4-6', display_name: 'Claude Sonnet 4.6', created_at: '2026-01-01T00:00:00Z' },
  { id: 'claude-haiku-4-5', display_name: 'Claude Haiku 4.5', created_at: '2025-10-01T00:00:00Z' },
].map((m) => ({ type: 'model', ...m }));

/** `sk-ant-oat01-abc…`: enough to tell tokens apart in a test, useless to anyone reading a log. */
export function tokenPrefix(token: string): string {
  const keep = token.startsWith(ACCESS_TOKEN_PREFIX) ? ACCESS_TOKEN_PREFIX.length + 3 : 6;
  return `${token.slice(0, keep)}…`;
}

function scrubHeaders(headers: Record<string, string>): Record<string, string> {
  const out = { ...headers };
  const auth = out['authorization'];
  if (auth !== undefined) {
    const m = /^(\S+)\s+(.*)$/.exec(auth);
    out['authorization'] = m ? `${m[1]} ${tokenPrefix(m[2]!)}` : tokenPrefix(auth);
  }
  if (out['x-api-key'] !== undefined) out['x-api-key'] = tokenPrefix(out['x-api-key']);
  return out;
}

class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

function fail(status: number, type: ApiErrorType, message: string, code: string): never {
  throw new ApiFailure(status, type, message, code);
}

export interface Api {
  /** True when the sandbox routes this path to the API. */
  owns(pathname: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void>;
}

export function createApi(deps: ApiDeps): Api {
  /** Spec §3: the bearer-token rules. Returns the token's grant. */
  function authenticate(headers: Record<string, string>, call: ApiCallRecord): IssuedToken {
    const auth = headers['authorization'];
    const apiKey = headers['x-api-key'];
    if (auth !== undefined && apiKey !== undefined) {
      // Two credentials on one request is ambiguous; the SDKs never do it and neither should we.
      fail(400, 'invalid_request_error', 'Send either the x-api-key header or the Authorization header, not both.', 'both_credentials');
    }
    if (auth === undefined) {
      if (apiKey !== undefined) fail(401, 'authentication_error', 'invalid x-api-key', 'api_key_not_accepted');
      fail(401, 'authentication_error', 'x-api-key header is required', 'missing_credentials');
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m) fail(401, 'authentication_error', 'Invalid authorization header (expected "Bearer <token>")', 'malformed_authorization');
    const token = m[1]!;
    call.token_prefix = tokenPrefix(token);
    // What the real API answered to OAuth bearer tokens sent without the oauth beta (spec §3).
    if (!hasBeta(headers, OAUTH_BETA)) fail(401, 'authentication_error', 'OAuth authentication is currently not supported.', 'missing_oauth_beta');
    const grant = deps.tokens.get(token);
    if (!grant) fail(401, 'authentication_error', 'Invalid bearer token', 'unknown_token');
    call.workspace_id = grant.workspaceId;
    if (deps.now() >= grant.expiresAt) {
      fail(401, 'authentication_error', 'OAuth token has expired. Please obtain a new token or refresh your existing token.', 'expired_token');
    }
    if (headers['anthropic-version'] === undefined || headers['anthropic-version'] === '') {
      fail(400, 'invalid_request_error', 'anthropic-version: header is required', 'missing_version');
    }
    return grant;
  }

  /** Calls outside the granted scope are 403 (spec §3); a tunnels-only token cannot do inference. */
  function requireInference(grant: IssuedToken): void {
    if (grant.scope === 'workspace:manage_tunnels') {
      fail(403, 'permission_error', `this token's scope (${grant.scope}) does not permit this request`, 'scope');
    }
  }

  async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_API_BODY_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError) fail(413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.', 'too_large');
      throw err;
    }
    const body = tryParseJson(raw.toString('utf8'));
    if (!isPlainObject(body)) fail(400, 'invalid_request_error', 'request body must be a JSON object', 'bad_request');
    return body;
  }

  function validateMessages(body: Record<string, unknown>): { model: string; stream: boolean; inputTokens: number } {
    const bad = (message: string): never => fail(400, 'invalid_request_error', message, 'bad_request');
    if (typeof body['model'] !== 'string' || body['model'] === '') bad('model: Field required');
    const maxTokens = body['max_tokens'];
    if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) bad('max_tokens: Field required (a positive integer)');
    const messages = body['messages'];
    if (!Array.isArray(messages) || messages.length === 0) bad('messages: at least one message is required');
    const stream = body['stream'];
    if (stream !== undefined && typeof stream !== 'boolean') bad('stream: Input should be a valid boolean');
    const inputTokens = Math.max(1, Math.ceil(JSON.stringify([body['system'] ?? '', messages]).length / 4));
    return { model: body['model'] as string, stream: stream === true, inputTokens };
  }

  async function messages(req: IncomingMessage, res: ServerResponse, requestId: string, grant: IssuedToken, call: ApiCallRecord): Promise<void> {
    const { model, stream, inputTokens } = validateMessages(await readJson(req));
    const id = `msg_${randomBytes(12).toString('base64url')}`;
    const text = `Hello from the claude-wif sandbox (workspace ${grant.workspaceId}).`;
    const outputTokens = text.split(/\s+/).length;
    if (!stream) {
      call.status = 200;
      sendReply(res, {
        status: 200,
        body: {
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [{ type: 'text', text }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: inputTokens, output_tokens: outputTokens },
        },
      }, requestId);
      return;
    }

    // The Messages streaming format: named SSE events whose `data` carries the same `type`.
    call.status = 200;
    call.stream = true;
    res.writeHead(200, {
      'request-id': requestId,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    const send = (event: string, data: Record<string, unknown>): void => {
      if (!res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
    };
    send('message_start', {
      message: {
        id, type: 'message', role: 'assistant', model, content: [],
        stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 1 },
      },
    });
    send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    send('ping', {});
    for (const piece of splitText(text, 4)) {
      // Separate writes with a pause: a client that buffers the whole stream would be caught here.
      await deps.delay(deps.streamDelayMs);
      if (res.destroyed) return;
      send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } });
    }
    send('content_block_stop', { index: 0 });
    send('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: outputTokens } });
    send('message_stop', {});
    res.end();
  }

  function route(method: string, pathname: string): 'messages' | 'models' | 'model' | 'hello' | 'bootstrap' | 'not_found' | 'method' {
    const allow = (methods: string[], name: 'messages' | 'models' | 'model' | 'hello' | 'bootstrap') => (methods.includes(method) ? name : 'method');
    if (pathname === '/v1/messages') return allow(['POST'], 'messages');
    if (pathname === '/v1/models') return allow(['GET'], 'models');
    if (/^\/v1\/models\/[^/]+$/.test(pathname)) return allow(['GET'], 'model');
    // Claude Code's connectivity probes (spec §5); unauthenticated, like the real ones.
    if (pathname === '/api/hello') return allow(['GET', 'HEAD'], 'hello');
    if (pathname === '/api/claude_cli/bootstrap') return allow(['GET'], 'bootstrap');
    return 'not_found';
  }

  return {
    owns: (pathname) => pathname.startsWith('/v1/') || pathname.startsWith('/api/'),
    async handle(req, res, requestId) {
      const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
      const method = req.method ?? 'GET';
      const headers = flattenHeaders(req);
      const recorded = url.pathname.startsWith('/v1/');
      const call: ApiCallRecord = {
        at: deps.now(),
        method,
        path: url.pathname + url.search,
        headers: scrubHeaders(headers),
        status: 0,
        request_id: requestId,
      };
      try {
        const target = route(method, url.pathname);
        if (target === 'hello') {
          call.status = 200;
          sendReply(res, { status: 200, body: { message: 'hello' } }, requestId, method);
          return;
        }
        if (target === 'bootstrap') {
          call.status = 200;
          sendReply(res, { status: 200, body: { client_data: null, additional_model_options: [] } }, requestId, method);
          return;
        }
        if (target === 'not_found') fail(404, 'not_found_error', `Not found: ${method} ${url.pathname}`, 'not_found');
        if (target === 'method') fail(405, 'invalid_request_error', `Method ${method} not allowed for ${url.pathname}`, 'method');
        const grant = authenticate(headers, call);
        requireInference(grant);
        if (target === 'messages') {
          await messages(req, res, requestId, grant, call);
          return;
        }
        let reply: Reply;
        if (target === 'models') {
          reply = { status: 200, body: { data: MODELS, has_more: false, first_id: MODELS[0]!.id, last_id: MODELS[MODELS.length - 1]!.id } };
        } else {
          const id = decodeURIComponent(url.pathname.slice('/v1/models/'.length));
          const model = MODELS.find((m) => m.id === id);
          if (!model) fail(404, 'not_found_error', `model: ${id}`, 'not_found');
          reply = { status: 200, body: model };
        }
        call.status = reply.status;
        sendReply(res, reply, requestId, method);
      } catch (err) {
        if (!(err instanceof ApiFailure)) {
          call.status = 500;
          throw err;
        }
        call.status = err.status;
        call.error = err.code;
        sendReply(res, { status: err.status, body: errorBody(err.type, err.message, requestId) }, requestId, method);
      } finally {
        if (recorded) deps.record(call);
      }
    },
  };
}

function splitText(text: string, parts: number): string[] {
  const words = text.split(/(?<= )/);
  const size = Math.ceil(words.length / parts);
  const out: string[] = [];
  for (let i = 0; i < words.length; i += size) out.push(words.slice(i, i + size).join(''));
  return out;
}
