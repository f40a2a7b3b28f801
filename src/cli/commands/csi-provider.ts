import { resolve as resolvePath } from 'node:path';
import type { CommandContext } from '../context.js';
import { WifError } from '../../util/errors.js';
import { daemonLogger, exitSoon, untilStopSignal } from './daemon.js';

export interface CsiProviderOptions {
  socket?: string;
  rotationInterval?: string;
  maxCached?: string;
}

function positiveInt(value: string | undefined, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new WifError('usage_error', `${flag} must be a whole number from 1 to ${max}, not ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/**
 * `claude-wif csi-provider`: the Secrets Store CSI driver provider (src/csi/). stdout gets one
 * JSON line once the socket listens; each exchange and each failed Mount is one line on stderr.
 * SIGTERM/SIGINT/SIGHUP: stop accepting Mounts, let running ones finish, remove the socket, exit 0.
 * Tokens live in this process's memory only.
 */
export async function runCsiProvider(ctx: CommandContext, opts: CsiProviderOptions): Promise<number> {
  const [{ createProvider, DEFAULT_ROTATION_INTERVAL_SECONDS, PROVIDER_NAME }, { startCsiServer, DEFAULT_SOCKET }, { memoryKeeper }] = await Promise.all([
    import('../../csi/provider.js'),
    import('../../csi/server.js'),
    import('../../run/memory.js'),
  ]);
  const socket = resolvePath(ctx.io.cwd, opts.socket ?? DEFAULT_SOCKET);
  const rotationIntervalSeconds = positiveInt(opts.rotationInterval, '--rotation-interval', 86_400) ?? DEFAULT_ROTATION_INTERVAL_SECONDS;
  const maxEntries = positiveInt(opts.maxCached, '--max-cached', 10_000_000);
  const log = daemonLogger(ctx);
  const memory = memoryKeeper();
  const provider = createProvider({ clock: ctx.io.clock, log, env: ctx.io.env, userAgent: ctx.deps.userAgent, rotationIntervalSeconds, maxEntries, afterMount: () => memory.afterRefresh() });
  const stop = untilStopSignal(ctx);
  try {
    const server = await startCsiServer({ socket, provider, log });
    // Expired entries can never be reused: drop them once a minute.
    const sweeper = setInterval(() => {
      if (provider.sweep() > 0) memory.afterRefresh();
    }, 60_000);
    sweeper.unref();
    ctx.io.stdout.write(`${JSON.stringify({ socket, provider: PROVIDER_NAME, rotation_interval: rotationIntervalSeconds, pid: ctx.io.proc.pid })}\n`);
    log.info(`csi-provider: serving ${socket} (provider name "${PROVIDER_NAME}")`);
    const signal = await stop.signal;
    clearInterval(sweeper);
    const s = provider.stats();
    log.info(`csi-provider: ${signal}: stopping after ${s.mounts} Mounts, ${s.exchanges} exchanges, ${s.failures} failures`);
    await server.close();
    exitSoon(ctx, 0);
    return 0;
  } finally {
    stop.dispose();
  }
}
