import { writeSync } from 'node:fs';
import { hotCacheHit, parseHotArgs } from './fast-path.js';
import { reportError } from './report-error.js';
import { readEnv } from '../config/paths.js';
import { cachedToken, type AccessToken } from '../core/cache-hit.js';
import type { CoreDeps, GetTokenOptions } from '../core/credentials.js';
import type { Plan } from '../core/resolve.js';
import { EXEC_MARKER_VAR, exitStatus, RERAISABLE_SIGNALS, type ChildResult } from '../run/exec/child.js';
import { sidecarMode } from '../run/exec/mode-sidecar.js';
import { tokenMode } from '../run/exec/mode-token.js';
import { DEFAULT_EXEC_MODE, type ExecMode, type ExecModeStrategy, type TokenSource } from '../run/exec/modes.js';
import { childCommand, chooseTarget, execWarnings, runExecSession } from '../run/exec/session.js';
import type { Target } from '../output/credential-env.js';
import { systemClock } from '../util/clock.js';
import { ERROR_CODES, WifError, type ErrorCode } from '../util/errors.js';
import { createLogger, type Writable } from '../util/log.js';
import { userAgent } from '../version.js';

/**
 * The hot exec entry (bundled as dist/exec.cjs): `claude-wif exec [--mode sidecar|token] -- …`
 * with a fresh cached token runs the same exec session as the full CLI (src/run/exec/session.ts)
 * without loading it: no commander, no identity sources, no exchange. Only a refresh the child
 * outlives its token for loads the core, from the full bundle (host.loadCore). Anything else
 * (another mode, a miss, a warning to give, an option the fast path does not know) returns false
 * before any side effect, and bin/claude-wif hands the invocation to the full CLI.
 */

/** The modes this entry runs; proxy and federation start servers and rotate files: the full CLI's. */
const HOT_MODES: Readonly<Partial<Record<ExecMode, ExecModeStrategy>>> = { sidecar: sidecarMode, token: tokenMode };

export interface CoreModule {
  getAccessToken(plan: Plan, opts: GetTokenOptions, deps: CoreDeps): Promise<AccessToken>;
}

export interface HotExecHost {
  /** The core's getAccessToken from the full bundle (dist/cli.mjs); an import() the launcher makes. */
  loadCore(): Promise<CoreModule>;
  /** Called with the exit status instead of ending the process (the build's code-cache warm-up). */
  done?(code: number): void;
}

/** Starts `exec` from a fresh cache and returns true (the process then ends with the child); false: the full CLI's job. */
export function startExec(argv: string[], env: NodeJS.ProcessEnv, host: HotExecHost): boolean {
  const args = parseHotArgs(argv);
  if (args?.command !== 'exec') return false;
  const mode = (args.mode ?? DEFAULT_EXEC_MODE) as ExecMode;
  const strategy = Object.prototype.hasOwnProperty.call(HOT_MODES, mode) ? HOT_MODES[mode] : undefined;
  if (strategy === undefined) return false;
  // Nested without --allow-nested is an error the full CLI reports.
  if (readEnv(env, EXEC_MARKER_VAR) !== undefined && !args.allowNested) return false;
  const firstTtl = strategy.firstTokenTtl(args.minTtl);
  if (firstTtl === undefined) return false;
  // exec says only the warnings that are not about variables it removes from the child anyway.
  const hit = hotCacheHit(args, env, firstTtl, execWarnings);
  if (hit === undefined) return false;
  const { plan } = hit;
  // exec --otel-identity's other spellings (the variable, the profile setting): the full CLI's job.
  if (readEnv(env, 'CLAUDE_WIF_OTEL_IDENTITY') !== undefined || plan.profile?.file.own['otel_identity'] === true) return false;
  const command = childCommand(args.child, env);
  // parseHotArgs accepted only sdk or claude-code.
  const target = chooseTarget(args.target as Target | undefined, command.file);

  const stderr: Writable = { write: (s: string) => writeFd(2, s) };
  const log = createLogger(stderr, args.quiet ? 'quiet' : 'info');
  const deps: CoreDeps = { env, clock: systemClock, log, userAgent: userAgent() };
  // The core's getAccessToken, cache first: a cache hit is all it would do without a refresh due
  // (debug logging aside, which the hot path never runs with); anything more loads the core.
  const tokens: TokenSource = async (o) => {
    if (!o.forceRefresh) {
      const t = cachedToken(plan, deps, o.minTtl ?? 0);
      if (t) return t;
    }
    const core = await host.loadCore();
    try {
      return await core.getAccessToken(plan, o, deps);
    } catch (err) {
      throw asLocalError(err);
    }
  };
  const end = (result: ChildResult | undefined, code: number): void => (host.done ? host.done(code) : finishProcess(result, code));
  runExecSession({
    mode,
    strategy,
    plan,
    deps,
    tokens,
    command,
    target,
    minTtl: args.minTtl,
    scrub: args.scrub === undefined ? 'auto' : args.scrub ? 'on' : 'off',
    passEnv: args.passEnv,
    cwd: process.cwd(),
    stderr,
  }).then(
    (result) => end(result, exitStatus(result)),
    (err: unknown) => end(undefined, reportError({ io: { stdout: { write: (s: string) => writeFd(1, s) }, stderr }, log }, err, false)),
  );
  return true;
}

/** fs.writeSync rather than the process streams: creating them costs start-up time. */
function writeFd(fd: 1 | 2, s: string): void {
  try {
    writeSync(fd, s);
  } catch {
    (fd === 2 ? process.stderr : process.stdout).write(s);
  }
}

/** A WifError thrown by the full bundle's core is another class: make it this bundle's, so it is reported as itself. */
function asLocalError(err: unknown): unknown {
  if (err instanceof WifError || !(err instanceof Error) || err.name !== 'WifError') return err;
  const e = err as Error & { code?: unknown; hint?: string; details?: Record<string, unknown> };
  if (typeof e.code !== 'string' || !Object.prototype.hasOwnProperty.call(ERROR_CODES, e.code)) return err;
  return new WifError(e.code as ErrorCode, e.message, { hint: e.hint, details: e.details, cause: (err as { cause?: unknown }).cause });
}

/**
 * Ends the process the way the child ended, as the exec command does for a real process: the
 * same signal where that is safe (no core dump of the wrapper), otherwise the status.
 */
function finishProcess(result: ChildResult | undefined, code: number): void {
  const sig = result?.signal;
  if (result?.code === null && sig && RERAISABLE_SIGNALS.includes(sig)) {
    process.removeAllListeners(sig);
    try {
      process.kill(process.pid, sig);
      // The default action applies to the whole process whichever thread takes the signal; give it a moment.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    } catch {
      /* fall through to the numeric status */
    }
  }
  process.exit(code);
}
