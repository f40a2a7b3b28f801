import { unlinkSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { isShadowingWarning, type CommandContext, type Invocation } from '../context.js';
import { getAccessToken } from '../../core/credentials.js';
import { startAgent, type SinkSpec } from '../../run/agent.js';
import { parseListen } from '../../run/listen.js';
import { toWifError, WifError } from '../../util/errors.js';
import { ensurePrivateDir } from '../../util/fsx.js';
import { daemonLogger, exitSoon, untilStopSignal } from './daemon.js';

export interface AgentCommandOptions {
  dir?: string;
  proxy?: string;
  proxySecretFile?: string;
  health?: string;
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone */
  }
}

/**
 * `claude-wif agent [profile…] --dir <dir> [--proxy addr] [--health addr]`: see src/run/agent.ts.
 * stdout gets one JSON line once everything listens (the directory, the profiles, the proxy URL
 * and secret file, the health URL); every refresh is one line on stderr. SIGTERM/SIGINT/SIGHUP:
 * stop refreshing, close the servers, remove the proxy secret, exit 0. The last token stays in
 * place: consumers that are still finishing keep working until it expires.
 */
export async function runAgent(ctx: CommandContext, opts: AgentCommandOptions, input: Invocation): Promise<number> {
  if (!opts.dir) {
    throw new WifError('usage_error', 'agent needs --dir <dir>: the directory it keeps the sidecar profiles in', {
      hint: 'e.g. claude-wif agent --dir /run/claude-wif (consumers then set ANTHROPIC_CONFIG_DIR=/run/claude-wif)',
    });
  }
  const dir = resolvePath(ctx.io.cwd, opts.dir);
  const names = input.args;
  if (names.length > 0 && ctx.global.profile) {
    throw new WifError('usage_error', 'name the profiles either with --profile or as arguments, not both', { hint: 'claude-wif agent --dir <dir> prod staging' });
  }
  const log = daemonLogger(ctx);
  const deps = { ...ctx.deps, log };
  let sinks: SinkSpec[];
  if (names.length === 0) {
    const plan = ctx.plan();
    // The agent's own ANTHROPIC_API_KEY & co. reach no consumer: nothing to act on.
    for (const w of plan.warnings) if (!isShadowingWarning(w)) log.warn(w);
    sinks = [{ name: plan.profile?.name ?? 'default', plan }];
  } else {
    sinks = names.map((name) => ({ name, plan: ctx.planFor(name) }));
    for (const w of new Set(sinks.flatMap((s) => s.plan.warnings))) if (!isShadowingWarning(w)) log.warn(w);
  }
  for (const s of sinks) {
    if (s.plan.kind !== 'oidc_federation') {
      throw new WifError('usage_error', `profile "${s.name}" is ${s.plan.kind}: the agent refreshes federation profiles (oidc_federation)`, {
        hint: 'name the oidc_federation profile the tokens come from',
      });
    }
  }
  const proxy = opts.proxy
    ? {
        listen: [parseListen(opts.proxy, { flag: '--proxy', defaultHost: '127.0.0.1', loopbackOnly: true, cwd: ctx.io.cwd })],
        secretFile: resolvePath(ctx.io.cwd, opts.proxySecretFile ?? join(dir, 'proxy.secret')),
      }
    : undefined;
  if (!proxy && opts.proxySecretFile) throw new WifError('usage_error', '--proxy-secret-file only makes sense with --proxy <addr>');
  if (proxy) ensurePrivateDir(dirname(proxy.secretFile), 'the directory of --proxy-secret-file');
  // Health answers carry no secret, and kubelet probes come from the pod's IP: any address is allowed.
  const health = opts.health ? parseListen(opts.health, { flag: '--health', defaultHost: '0.0.0.0', loopbackOnly: false, cwd: ctx.io.cwd }) : undefined;

  const stop = untilStopSignal(ctx);
  try {
    const { memoryKeeper } = await import('../../run/memory.js');
    const memory = memoryKeeper();
    const agent = await startAgent({ dir, sinks, deps, fetch: (plan, o) => getAccessToken(plan, o, deps), proxy, health, afterRefresh: () => memory.afterRefresh() });
    if (proxy) ctx.io.proc.onExit(() => removeQuietly(proxy.secretFile));
    ctx.io.stdout.write(
      `${JSON.stringify({
        dir,
        profiles: agent.sinks.map((s) => s.name),
        active_profile: agent.sinks[0]?.name,
        proxy: agent.proxy ? { url: agent.proxy.url ?? null, secret_file: proxy!.secretFile } : null,
        health: agent.healthUrl ?? null,
        pid: ctx.io.proc.pid,
      })}\n`,
    );
    log.info(`agent: keeping ${agent.sinks.map((s) => `"${s.name}"`).join(', ')} fresh in ${dir}${agent.proxy ? `; proxy on ${agent.proxy.url}` : ''}${agent.healthUrl ? `; health on ${agent.healthUrl}` : ''}`);
    const outcome = await Promise.race([stop.signal.then((s) => ({ signal: s })), agent.fatal.then((err) => ({ err }))]);
    if ('err' in outcome) {
      await agent.stop();
      throw toWifError(outcome.err);
    }
    log.info(`agent: ${outcome.signal}: stopping (the last tokens stay in place until they expire)`);
    await agent.stop();
    exitSoon(ctx, 0);
    return 0;
  } finally {
    stop.dispose();
  }
}
