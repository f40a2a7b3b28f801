import { dirname, resolve as resolvePath } from 'node:path';
import type { CommandContext } from '../context.js';
import { getAccessToken } from '../../core/credentials.js';
import { startKeeper } from '../../run/keeper.js';
import { parseListen } from '../../run/listen.js';
import { MIN_REQUEST_TTL_SECONDS, newProxySecret, startProxy } from '../../run/injecting-proxy.js';
import { proxySecretPath } from '../../cache/layout.js';
import { WifError } from '../../util/errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../../util/fsx.js';
import { daemonLogger, exitSoon, untilStopSignal } from './daemon.js';
import { removeQuietly } from './agent.js';

export interface ProxyCommandOptions {
  listen?: string[];
  secretFile?: string;
  printSecret?: boolean;
  health?: string;
}

/**
 * `claude-wif proxy [--listen addr]… [--secret-file path | --print-secret]`: the credential-
 * injecting loopback proxy of `exec --mode proxy`, for processes started elsewhere.
 *
 * The per-session secret goes, by default, to a 0600 file (`--secret-file`, else
 * `<cache dir>/proxy/proxy-<port>.secret`) that is removed when the proxy stops; a client reads
 * it into ANTHROPIC_AUTH_TOKEN. `--print-secret` puts it in the startup JSON on stdout instead
 * (once; no file), for a supervisor that hands it to the client itself. stdout carries exactly
 * one JSON line: where to connect, and where the secret is.
 */
export async function runProxy(ctx: CommandContext, opts: ProxyCommandOptions): Promise<number> {
  if (opts.secretFile && opts.printSecret) {
    throw new WifError('usage_error', '--secret-file and --print-secret are alternatives: the secret goes to a file or to stdout, not both');
  }
  const healthAt = opts.health ? parseListen(opts.health, { flag: '--health', defaultHost: '0.0.0.0', loopbackOnly: false, cwd: ctx.io.cwd }) : undefined;
  const listen = (opts.listen?.length ? opts.listen : ['127.0.0.1:0']).map((v) => parseListen(v, { flag: '--listen', defaultHost: '127.0.0.1', loopbackOnly: true, cwd: ctx.io.cwd }));
  const plan = ctx.plan();
  for (const w of plan.warnings) ctx.log.warn(w);
  const log = daemonLogger(ctx);
  const deps = { ...ctx.deps, log };
  // Refused before anything listens: a secret file only ever goes into a private directory (item 1).
  if (opts.secretFile) ensurePrivateDir(dirname(resolvePath(ctx.io.cwd, opts.secretFile)), 'the directory of --secret-file');
  const stop = untilStopSignal(ctx);
  let secretFile: string | undefined;
  try {
    // --health: liveness, readiness (a token with more than 30 s left) and Prometheus /metrics,
    // listening before the first exchange so that the metrics count it.
    let keeperRef: ReturnType<typeof startKeeper> | undefined;
    const health = healthAt ? await (await import('../../audit/health.js')).startProxyHealth(healthAt, { keeper: () => keeperRef, profile: plan.profile?.name ?? '(environment)', clock: ctx.io.clock }) : undefined;
    let token;
    try {
      token = await getAccessToken(plan, { minTtl: MIN_REQUEST_TTL_SECONDS * 2 }, deps);
    } catch (err) {
      await health?.close();
      throw err;
    }
    const keeper = startKeeper({ initial: token, fetch: (o) => getAccessToken(plan, o, deps), clock: ctx.io.clock, log });
    keeperRef = keeper;
    const secret = newProxySecret();
    const proxy = await startProxy({ upstream: plan.baseUrl.value, secret, tokens: () => keeper, listen, clock: ctx.io.clock, log, env: ctx.io.env, ...(health ? { onResponse: health.metrics.observeProxied } : {}) }).catch(async (err: unknown) => {
      keeper.stop();
      await health?.close();
      throw err;
    });
    const tcp = proxy.addresses.find((a) => a.kind === 'tcp');
    const socket = proxy.addresses.find((a) => a.kind === 'unix');
    if (!opts.printSecret) {
      secretFile = opts.secretFile
        ? resolvePath(ctx.io.cwd, opts.secretFile)
        : proxySecretPath(plan.cacheDir.value, tcp?.kind === 'tcp' ? tcp.port : ctx.io.proc.pid);
      ensurePrivateDir(dirname(secretFile), 'the directory of --secret-file');
      writeFileAtomic(secretFile, `${secret}\n`, 0o600);
      const path = secretFile;
      ctx.io.proc.onExit(() => removeQuietly(path));
    }
    const info = {
      url: proxy.url ?? null,
      socket: socket?.kind === 'unix' ? socket.path : null,
      upstream: plan.baseUrl.value,
      profile: plan.profile?.name ?? null,
      secret_file: secretFile ?? null,
      ...(health ? { health: health.url } : {}),
      ...(opts.printSecret ? { secret } : {}),
      pid: ctx.io.proc.pid,
    };
    ctx.io.stdout.write(`${JSON.stringify(info)}\n`);
    log.info(`proxy: forwarding ${[proxy.url, socket?.kind === 'unix' ? `unix:${socket.path}` : undefined].filter(Boolean).join(' and ')} to ${plan.baseUrl.value}${secretFile ? `; the session secret is in ${secretFile}` : ''}`);
    const s = await stop.signal;
    log.info(`proxy: ${s}: stopping`);
    keeper.stop();
    await Promise.all([proxy.close(5_000), health?.close()]);
    exitSoon(ctx, 0);
    return 0;
  } finally {
    if (secretFile) removeQuietly(secretFile);
    stop.dispose();
  }
}
