import type { CommandContext, Invocation } from '../context.js';
import { getAccessToken } from '../../core/credentials.js';
import type { Target } from '../../output/credential-env.js';
import { exitStatus, RERAISABLE_SIGNALS, type ChildResult } from '../../run/exec/child.js';
import { loadMode, type ExecMode } from '../../run/exec/modes.js';
import { assertNotNested, childCommand, chooseTarget, execWarnings, runExecSession } from '../../run/exec/session.js';
import { WifError } from '../../util/errors.js';

export interface ExecOptions {
  mode: ExecMode;
  target?: Target;
  /** `--scrub` true, `--no-scrub` false, neither: undefined (scrub when the host can). */
  scrub?: boolean;
  allowNested?: boolean;
  minTtl?: number;
  /** --mode proxy: also listen on this unix socket (exported as CLAUDE_WIF_PROXY_SOCKET). */
  proxySocket?: string;
  /** --pass-env NAME (repeatable): identity material the child gets anyway. */
  passEnv?: string[];
  /** --isolate: bubblewrap namespaces around the child (implies --mode proxy). */
  isolate?: boolean;
  /** --isolate-share-net: keep the host network under --isolate. */
  isolateShareNet?: boolean;
  otelIdentity?: boolean;
}

/**
 * The child's argv: everything after the first `--`, untouched. Without `--`, options meant for
 * the command would be parsed as claude-wif's own (`claude -p "…"` would set --profile), so a
 * command given without it is refused rather than guessed at.
 */
export function commandArgv(input: Pick<Invocation, 'args' | 'passthrough'>): string[] {
  const operands = input.args;
  const after = input.passthrough ?? [];
  if (operands.length === 0) return after;
  if (input.passthrough === undefined || after.length !== operands.length || after.some((a, i) => a !== operands[i])) {
    throw new WifError('usage_error', 'put `--` between claude-wif\'s options and the command: claude-wif exec [options] -- <command> [args…]', {
      hint: `everything after \`--\` is passed to the command unchanged, e.g. claude-wif exec -- ${operands[0] ?? 'claude'} …`,
    });
  }
  return after;
}

/** The proxy session's memory store, falling back (read-only) to a token already in the plan's file cache. */
async function proxySessionStore(plan: ReturnType<CommandContext['plan']>): Promise<import('../../cache/memory-store.js').MemoryStore> {
  const [{ memoryStore }, { readPlanCredentials }] = await Promise.all([import('../../cache/memory-store.js'), import('../../cache/file-store.js')]);
  // The plan's own reader: a CSI-mounted token.json (reached through the driver's ..data links) has its own rules.
  return memoryStore(plan.cache.backend === 'file' ? () => readPlanCredentials(plan.cache) : undefined);
}

/**
 * `claude-wif exec [--mode sidecar|token|proxy|federation] -- <command> [args…]`: parse, run the
 * session (src/run/exec/session.ts: credentials first, then the mode and the child), and exit
 * with the child's own status.
 */
export async function runExec(ctx: CommandContext, opts: ExecOptions, input: Invocation): Promise<number> {
  const mode: ExecMode = opts.isolate && !input.given.has('mode') ? 'proxy' : opts.mode;
  if (opts.isolate && mode !== 'proxy') {
    throw new WifError('usage_error', `--isolate works with --mode proxy only (not ${mode})`, {
      hint: 'an isolated child holds no token: it reaches the API through the session proxy; drop --mode, or use --mode proxy',
    });
  }
  if (opts.isolateShareNet && !opts.isolate) throw new WifError('usage_error', '--isolate-share-net needs --isolate');
  const minTtl = opts.minTtl ?? 0;
  const argv = commandArgv(input);
  assertNotNested(ctx.io.env, Boolean(opts.allowNested));
  const command = childCommand(argv, ctx.io.env);
  const target = chooseTarget(opts.target, command.file);

  const plan = ctx.plan();
  for (const w of execWarnings(plan)) ctx.log.warn(w);
  // A proxy session keeps its tokens in this process's memory (issue 12): nothing it mints is
  // written where the child, running as the same user, could read it. An isolated child cannot
  // see the token cache at all, so an isolated session uses the cache like every other command
  // (a later session reuses the token instead of needing a new JWT from a file source).
  const store = mode === 'proxy' && !opts.isolate ? await proxySessionStore(plan) : undefined;
  const result = await runExecSession({
    mode,
    strategy: await loadMode(mode),
    plan,
    deps: ctx.deps,
    tokens: (o) => getAccessToken(plan, store ? { ...o, store } : o, ctx.deps),
    command,
    target,
    minTtl,
    scrub: opts.scrub === undefined ? 'auto' : opts.scrub ? 'on' : 'off',
    proxySocket: opts.proxySocket,
    passEnv: opts.passEnv ?? [],
    isolate: opts.isolate ? { network: opts.isolateShareNet ? 'host' : 'none' } : undefined,
    otelIdentity: (await import('../../audit/otel.js')).otelIdentityWanted(opts.otelIdentity, ctx.io.env, plan),
    cwd: ctx.io.cwd,
    stderr: ctx.io.stderr,
    signals: ctx.io.proc.signals,
  });
  store?.clear();
  const code = exitStatus(result);
  endLikeTheChild(ctx, result, code);
  return code;
}

/**
 * Ends the process the way the child ended. A child that died of SIGINT/SIGTERM/SIGHUP…: the
 * parent dies of the same signal (after cleaning up), so a calling shell sees "killed by signal"
 * and, for ^C, stops a script loop as it would for the bare command. Signals that would dump core
 * are reported as 128+N instead (no core file of the wrapper). Exiting explicitly also means an
 * abandoned refresh (a slow token endpoint) never keeps the parent alive after the child is gone.
 * In-process (tests) the stand-in records both and the command returns the code.
 */
function endLikeTheChild(ctx: CommandContext, result: ChildResult, code: number): void {
  const sig = result.signal;
  if (result.code === null && sig && RERAISABLE_SIGNALS.includes(sig)) ctx.io.proc.dieOf(sig);
  ctx.io.proc.exit(code);
}
