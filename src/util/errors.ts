import { redact, redactDeep } from './redact.js';

/** Process exit codes: a stable contract (the README's exit-code table). */
export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  IDENTITY: 3,
  DENIED: 4,
  UNREACHABLE: 5,
  UNSAFE: 6,
  /** `audit` found a static credential path (a CI gate: 0 when every path is federated). */
  STATIC_CREDENTIALS: 7,
} as const;

/**
 * Every error a user can meet, with its stable snake_case code and exit code.
 * The README's error table is generated from (and tested against) this map.
 */
export const ERROR_CODES = {
  internal_error: { exit: EXIT.INTERNAL, summary: 'a bug in claude-wif; please report it with `--debug` output' },
  usage_error: { exit: EXIT.USAGE, summary: 'invalid command-line usage' },
  config_invalid: { exit: EXIT.USAGE, summary: 'a profile or environment variable holds an invalid value' },
  config_missing: { exit: EXIT.USAGE, summary: 'no federation configuration was found (no profile, no environment variables)' },
  profile_not_found: { exit: EXIT.USAGE, summary: 'the named profile does not exist' },
  identity_unavailable: { exit: EXIT.IDENTITY, summary: 'the identity source could not produce a JWT' },
  identity_invalid: { exit: EXIT.IDENTITY, summary: 'the identity JWT is malformed or would be refused by the token endpoint' },
  identity_expired: { exit: EXIT.IDENTITY, summary: 'the identity JWT has expired' },
  identity_replayed: { exit: EXIT.IDENTITY, summary: 'this identity JWT was already exchanged; single-use assertions cannot be sent twice' },
  credentials_expired: { exit: EXIT.IDENTITY, summary: 'a user_oauth profile’s token has expired and claude-wif cannot refresh it' },
  exchange_denied: { exit: EXIT.DENIED, summary: 'the token endpoint refused the assertion (401, 403 or 400 invalid_grant)' },
  exchange_bad_request: { exit: EXIT.DENIED, summary: 'the token endpoint rejected the request as malformed (400)' },
  endpoint_unreachable: { exit: EXIT.UNREACHABLE, summary: 'a token or identity endpoint could not be reached' },
  endpoint_timeout: { exit: EXIT.UNREACHABLE, summary: 'a token or identity endpoint did not answer in time' },
  endpoint_failed: { exit: EXIT.UNREACHABLE, summary: 'a token or identity endpoint kept failing (5xx, 429) or answered unexpectedly' },
  invalid_response: { exit: EXIT.UNREACHABLE, summary: 'the token endpoint answered 2xx with an unusable body' },
  insecure_endpoint: { exit: EXIT.UNSAFE, summary: 'refused to send a credential over a non-https endpoint' },
  insecure_file: { exit: EXIT.UNSAFE, summary: 'refused a file, directory or socket another user owns or can write, a symlinked secret file, or to replace a file that is not a credentials document' },
  cache_unwritable: { exit: EXIT.UNSAFE, summary: 'the cache directory (locks, single-use ledger) cannot be written (read-only or full); a cached token is still served, a new exchange is not' },
  static_credentials_found: { exit: EXIT.STATIC_CREDENTIALS, summary: '`claude-wif audit` found at least one static credential path (a key, a stored-secret reference, a credential in an environment)' },
  isolation_unavailable: { exit: EXIT.UNSAFE, summary: '`exec --isolate` was asked for but this machine cannot isolate the child (no Linux, no bubblewrap, or no user namespaces); nothing was run' },
  exec_nested: { exit: EXIT.USAGE, summary: '`claude-wif exec` was started inside another `claude-wif exec` (pass --allow-nested to allow it)' },
  command_not_executable: { exit: 126, summary: '`claude-wif exec`: the command exists but could not be executed (permissions, not a program)' },
  command_not_found: { exit: 127, summary: '`claude-wif exec`: the command was not found (not on PATH, or no such file)' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface WifErrorOptions {
  /** One line naming the fix. */
  hint?: string | undefined;
  cause?: unknown;
  /** Extra facts for --json output (status codes, request ids, paths); redacted at construction. */
  details?: Record<string, unknown> | undefined;
}

/** The only error type commands turn into exit codes. Message, hint and details are redacted at construction. */
export class WifError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: WifErrorOptions = {}) {
    super(redact(message));
    this.name = 'WifError';
    this.code = code;
    this.exitCode = ERROR_CODES[code].exit;
    this.hint = options.hint === undefined ? undefined : redact(options.hint);
    // Details come from peers too (a request-id header): a hostile or broken endpoint echoing the
    // assertion there put it on stdout in --json output (found by test/unit/fuzz.test.ts).
    this.details = options.details === undefined ? undefined : redactDeep(options.details);
    if (options.cause !== undefined) {
      // Keep the cause for --debug, but never let an unredacted message ride along.
      Object.defineProperty(this, 'cause', { value: redactCause(options.cause), enumerable: false });
    }
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      exit_code: this.exitCode,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

function redactCause(cause: unknown): unknown {
  if (cause instanceof Error) {
    const copy = new Error(redact(cause.message));
    copy.name = cause.name;
    const code = (cause as NodeJS.ErrnoException).code;
    if (code) (copy as NodeJS.ErrnoException).code = code;
    return copy;
  }
  return typeof cause === 'string' ? redact(cause) : undefined;
}

/** Turns anything thrown into a WifError; unknown errors are bugs (exit 1). */
export function toWifError(err: unknown): WifError {
  if (err instanceof WifError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new WifError('internal_error', `unexpected error: ${message}`, {
    cause: err,
    hint: 'this is a bug in claude-wif; rerun with --debug and report the (redacted) output',
  });
}
