import { closeSync, constants, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { readEnv, type Env } from '../config/paths.js';
import type { Plan } from '../core/resolve.js';
import { redactDeep } from '../util/redact.js';
import { buildExchangeEvent, type ExchangeEvent, type ExchangeInput } from './event.js';

/**
 * The audit trail: one JSON Lines event per exchange, from every path that exchanges (token, env,
 * exec, agent, proxy through the core's getAccessToken; the CSI provider through recordExchange).
 *
 * Sink: `CLAUDE_WIF_AUDIT_LOG`, else the profile's `claude_wif.audit_log`: an absolute path (or
 * `~/…`), or `stderr`. A file is opened O_APPEND|O_CREAT|O_NOFOLLOW, mode 0600, for every event,
 * and each event is one write(2) of one whole line: O_APPEND makes the kernel place each write at
 * the end atomically, so many processes appending at once never interleave or tear a line
 * (test/unit/audit-trail.test.ts runs a storm of writers). A file other users can read or write,
 * one owned by another user, or a symlink, is refused: the event is dropped with one warning.
 * Writing the trail never fails an exchange.
 */

export type AuditSink = { kind: 'file'; path: string; origin: string } | { kind: 'stderr'; origin: string };

/** Where events go, if anywhere: the environment first, then the profile. */
export function auditSink(env: Env, own?: Record<string, unknown>, profilePath?: string): AuditSink | undefined {
  const fromEnv = readEnv(env, 'CLAUDE_WIF_AUDIT_LOG');
  const fromProfile = typeof own?.['audit_log'] === 'string' && own['audit_log'] !== '' ? (own['audit_log'] as string) : undefined;
  const value = fromEnv ?? fromProfile;
  if (!value || value === 'off') return undefined;
  const origin = fromEnv ? 'env CLAUDE_WIF_AUDIT_LOG' : `profile ${profilePath ?? ''} (claude_wif.audit_log)`;
  if (value === 'stderr' || value === '-') return { kind: 'stderr', origin };
  const home = readEnv(env, 'HOME');
  const path = value.startsWith('~/') && home ? join(home, value.slice(2)) : value;
  // A relative path would land wherever each process happens to run.
  if (!isAbsolute(path)) return { kind: 'stderr', origin: `${origin}: "${value}" is not absolute; writing to stderr` };
  return { kind: 'file', path, origin };
}

type Listener = (e: ExchangeEvent) => void;
const listeners = new Set<Listener>();

/** In-process observers of every exchange (the agent's and proxy's Prometheus metrics). */
export function onExchange(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

let warned = false;

/** Appends one event to the sink as one line. Never throws; the first failure is reported once. */
export function writeEvent(sink: AuditSink, event: ExchangeEvent, log?: { warn(m: string): void }): void {
  const line = Buffer.from(`${JSON.stringify(event)}\n`);
  try {
    if (sink.kind === 'stderr') {
      writeSync(2, line);
      return;
    }
    mkdirSync(dirname(sink.path), { recursive: true, mode: 0o700 });
    const fd = openSync(sink.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    try {
      const st = fstatSync(fd);
      const uid = process.getuid?.();
      if (!st.isFile()) throw new Error('it is not a regular file');
      if (uid !== undefined && st.uid !== uid && st.uid !== 0) throw new Error(`it belongs to uid ${st.uid}`);
      if (st.mode & 0o077) throw new Error(`its mode ${(st.mode & 0o777).toString(8)} lets other users read or write it (chmod 600 it)`);
      const n = writeSync(fd, line);
      if (n !== line.length) throw new Error(`short write (${n} of ${line.length} bytes)`);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (!warned) {
      warned = true;
      const e = err as NodeJS.ErrnoException;
      log?.warn(`audit log ${sink.kind === 'file' ? sink.path : 'stderr'}: event not written: ${e.code === 'ELOOP' ? 'it is a symlink' : e.message}`);
    }
  }
}

/**
 * Records one exchange: builds the event (redacted), tells in-process observers, appends it to
 * the sink. The CSI provider calls this directly; everything else goes through recordPlanExchange.
 */
export function recordExchange(input: ExchangeInput, opts: { env: Env; sink?: AuditSink | undefined; log?: { warn(m: string): void } }): ExchangeEvent {
  const event = redactDeep(buildExchangeEvent(input));
  for (const l of listeners) {
    try {
      l(event);
    } catch {
      /* an observer's bug must not break exchanges */
    }
  }
  const sink = opts.sink ?? auditSink(opts.env);
  if (sink) writeEvent(sink, event, opts.log);
  return event;
}

/** What the core saw of one exchange attempt (filled in as it goes). */
export interface ExchangeTrace {
  identity?: { source: string; claims: { iss?: string | undefined; sub?: string | undefined; aud?: string[] | undefined; jti?: string | undefined } } | undefined;
  requestId?: string | undefined;
}

/** The core's one call: an exchange for a plan ended, with a token or with an error. */
export function recordPlanExchange(
  plan: Plan,
  deps: { env: Env; clock: { now(): number }; log: { warn(m: string): void }; component?: string | undefined },
  trace: ExchangeTrace,
  startedMs: number,
  result: { expiresAt: number | null } | undefined,
  err?: unknown,
): void {
  const e = err as { code?: string; details?: Record<string, unknown> } | undefined;
  recordExchange(
    {
      component: deps.component ?? 'library',
      startedMs,
      endedMs: deps.clock.now(),
      outcome: result ? 'success' : 'failure',
      error: e ? { code: typeof e.code === 'string' && /^[a-z_]+$/.test(e.code) ? e.code : 'internal_error', details: e.details } : undefined,
      profile: plan.profile?.name ?? null,
      identitySource: trace.identity?.source ?? plan.identity?.source.value ?? null,
      claims: trace.identity?.claims,
      organizationId: plan.organizationId?.value,
      federationRuleId: plan.federationRuleId?.value,
      serviceAccountId: plan.serviceAccountId?.value,
      workspaceId: plan.workspaceId?.value,
      baseUrl: plan.baseUrl.value,
      requestId: trace.requestId,
      expiresAt: result?.expiresAt ?? null,
    },
    { env: deps.env, sink: auditSink(deps.env, plan.profile?.file.own, plan.profile?.path), log: deps.log },
  );
}
