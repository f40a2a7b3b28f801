import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve as resolvePath } from 'node:path';
import type { AccessToken, CoreDeps } from '../core/credentials.js';
import type { Plan } from '../core/resolve.js';
import { DEFAULT_BASE_URL } from '../protocol.js';
import { WifError } from '../util/errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../util/fsx.js';
import { requireNotSymlink, requireTrustedDir } from '../util/trust.js';
import { describeAge } from '../util/jwt.js';
import { startKeeper, type TokenKeeper } from './keeper.js';
import type { Metrics } from '../audit/metrics.js';
import { describeListen, hostForUrl, type ListenAddress } from './listen.js';
import { newProxySecret, startProxy, type RunningProxy } from './injecting-proxy.js';
import { FIRST_TOKEN_MIN_TTL_SECONDS, PICKUP_WINDOW_SECONDS, refreshSchedule, retryDelaySeconds, type Scheduler, realScheduler } from './rotator.js';
import { credentialsJson, SIDECAR_PROFILE } from './sidecar.js';

/**
 * `claude-wif agent`: one long-running process keeps one or more profiles' tokens fresh in a
 * directory laid out as a sidecar `user_oauth` config dir (the layout of `exec --mode sidecar`):
 *
 *   <dir>/configs/<name>.json       {"version":"1.0","authentication":{"type":"user_oauth"}}
 *   <dir>/credentials/<name>.json   the current token (atomic replace, 0600)
 *   <dir>/active_config             the first sink's name
 *
 * Consumers sharing the directory (another container on a shared volume, services on a host) set
 * ANTHROPIC_CONFIG_DIR=<dir> (and ANTHROPIC_PROFILE=<name> for any sink but the first) and need
 * nothing else: the SDKs and Claude Code re-read the file as their copy nears expiry (spec §5),
 * and the agent writes the next token before the current one enters its last 30 s (rotator.ts).
 * Only the agent ever exchanges.
 *
 * Health (`--health`): liveness = the process answers and no refresh has been stuck for longer
 * than the exchange deadline allows; readiness = every sink holds a token with more than the
 * consumers' 30 s pick-up window left. So a pod turns ready once every token is written, and
 * unready when a token is about to expire without a successful refresh (the token endpoint or the
 * identity source is down) — and ready again as soon as a refresh succeeds.
 */

export interface SinkSpec {
  /** The profile name consumers use (configs/<name>.json in the agent's directory). */
  name: string;
  plan: Plan;
}

export interface AgentOptions {
  dir: string;
  sinks: SinkSpec[];
  deps: CoreDeps;
  /** Obtains tokens; the core's getAccessToken (lock + cache) in production. */
  fetch(plan: Plan, opts: { minTtl?: number; forceRefresh?: boolean }): Promise<AccessToken>;
  proxy?: { listen: ListenAddress[]; secretFile: string } | undefined;
  health?: ListenAddress | undefined;
  scheduler?: Scheduler;
  /** Called after every refresh (the daemon's memory upkeep). */
  afterRefresh?: () => void;
}

export interface SinkStatus {
  name: string;
  ready: boolean;
  expires_in: number | null;
  refreshes: number;
  failures: number;
  next_refresh_in: number | null;
  last_error?: string;
}

export interface Agent {
  sinks: ReadonlyArray<{ name: string; credentialsPath: string; configPath: string }>;
  proxy: RunningProxy | undefined;
  healthUrl: string | undefined;
  ready(): boolean;
  alive(): boolean;
  status(): { ready: boolean; alive: boolean; sinks: SinkStatus[] };
  /** Resolves once every sink has written its first token (for callers that want to wait). */
  firstTokens(): Promise<void>;
  /** Resolves with the error when a later attempt hits a configuration error no retry can fix. */
  fatal: Promise<unknown>;
  /** Stops refreshing, closes the servers, removes the proxy secret file. Never leaves a partial file. */
  stop(): Promise<void>;
}

/** Errors that no retry can fix: configuration and unsafe local state end the agent at start. */
const isFatal = (err: unknown): boolean => err instanceof WifError && (err.exitCode === 2 || err.exitCode === 6);

export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const { deps } = opts;
  const log = deps.log;
  const scheduler = opts.scheduler ?? realScheduler;
  const nowSec = () => deps.clock.now() / 1000;
  const dir = resolvePath(opts.dir);
  prepareDir(dir, opts.sinks, log);
  const configs = join(dir, 'configs');
  const credentials = join(dir, 'credentials');

  let stopped = false;
  // A stuck refresh (a hung identity endpoint) makes the agent not alive after this long.
  const { timeouts } = await import('../core/credentials.js');
  const stuckMs = timeouts(deps.env).overallMs * 2 + 10_000;

  interface Sink {
    spec: SinkSpec;
    credentialsPath: string;
    configPath: string;
    keeper: TokenKeeper | undefined;
    written: boolean;
    startFailures: number;
    startingSince: number | undefined;
    retry: unknown;
    lastError: string | undefined;
    first: { promise: Promise<void>; resolve: () => void };
  }

  const sinks: Sink[] = opts.sinks.map((spec) => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return {
      spec,
      credentialsPath: join(credentials, `${spec.name}.json`),
      configPath: join(configs, `${spec.name}.json`),
      keeper: undefined,
      written: false,
      startFailures: 0,
      startingSince: undefined,
      retry: undefined,
      lastError: undefined,
      first: { promise, resolve },
    };
  });

  const write = (sink: Sink, token: AccessToken): void => {
    if (stopped) return;
    writeFileAtomic(sink.credentialsPath, credentialsJson(token), 0o600);
    if (!sink.written) {
      // The profile appears only once its token exists: a consumer never finds one without the other.
      writeFileAtomic(sink.configPath, `${JSON.stringify(sidecarProfileFor(sink.spec.plan), null, 2)}\n`, 0o600);
      if (sink === sinks[0]) writeFileAtomic(join(dir, 'active_config'), `${sink.spec.name}\n`, 0o600);
      sink.written = true;
      sink.first.resolve();
    }
  };

  const logRefresh = (sink: Sink, token: AccessToken, how: string): void => {
    const now = nowSec();
    const s = refreshSchedule(token, now);
    log.info(
      `agent: "${sink.spec.name}" refreshed (${how}): expires in ${token.expiresAt === null ? 'never' : describeAge(token.expiresAt - now)}${s ? `, next refresh in ${describeAge(Math.max(1, s.refreshAt - now))}` : ''}`,
    );
    opts.afterRefresh?.();
  };

  const start = (sink: Sink): Promise<void> => {
    sink.retry = undefined;
    if (stopped) return Promise.resolve();
    sink.startingSince = deps.clock.now();
    return opts.fetch(sink.spec.plan, { minTtl: FIRST_TOKEN_MIN_TTL_SECONDS }).then(
      (token) => {
        sink.startingSince = undefined;
        if (stopped) return;
        write(sink, token);
        sink.lastError = undefined;
        logRefresh(sink, token, token.fromCache ? 'first token, from the cache' : 'first token, new exchange');
        sink.keeper = startKeeper({
          initial: token,
          fetch: (o) => opts.fetch(sink.spec.plan, o),
          clock: deps.clock,
          log: {
            debug: (m) => log.debug(`agent: "${sink.spec.name}": ${m}`),
            info: (m) => log.info(`agent: "${sink.spec.name}": ${m}`),
            warn: (m) => {
              sink.lastError = m;
              log.warn(`agent: "${sink.spec.name}": ${m}`);
            },
          },
          scheduler,
          onUpdate: (t, how) => {
            write(sink, t);
            sink.lastError = undefined;
            logRefresh(sink, t, how === 'forced' ? 'forced after the API refused the token' : t.fromCache ? 'from the cache' : 'new exchange');
          },
        });
      },
      (err: unknown) => {
        sink.startingSince = undefined;
        if (stopped) return;
        if (isFatal(err)) throw err;
        sink.startFailures++;
        const delay = retryDelaySeconds(sink.startFailures, nowSec(), null);
        sink.lastError = (err as Error).message;
        log.warn(`agent: "${sink.spec.name}": no token yet (attempt ${sink.startFailures}): ${(err as Error).message}; retrying in ${describeAge(delay)}`);
        sink.retry = scheduler.set(() => void start(sink).catch(fatal), delay * 1000);
      },
    );
  };
  let fatal!: (err: unknown) => void;
  const fatalError = new Promise<unknown>((r) => (fatal = r));

  const sinkReady = (s: Sink): boolean => {
    if (!s.written || !s.keeper) return false;
    const t = s.keeper.current();
    return t.expiresAt === null || t.expiresAt - nowSec() > PICKUP_WINDOW_SECONDS;
  };
  const sinkAlive = (s: Sink): boolean => {
    const since = s.keeper?.busySince ?? s.startingSince;
    return since === undefined || deps.clock.now() - since < stuckMs;
  };
  const status = (): { ready: boolean; alive: boolean; sinks: SinkStatus[] } => {
    const now = nowSec();
    const list = sinks.map((s): SinkStatus => {
      const t = s.keeper?.current();
      const next = s.keeper?.nextAt;
      return {
        name: s.spec.name,
        ready: sinkReady(s),
        expires_in: t?.expiresAt != null ? Math.round(t.expiresAt - now) : null,
        refreshes: s.keeper?.refreshes ?? 0,
        failures: s.keeper ? s.keeper.failures : s.startFailures,
        next_refresh_in: next !== undefined ? Math.max(0, Math.round(next - now)) : null,
        ...(s.lastError ? { last_error: s.lastError } : {}),
      };
    });
    return { ready: list.every((s) => s.ready), alive: sinks.every(sinkAlive), sinks: list };
  };

  let proxy: RunningProxy | undefined;
  let health: Server | undefined;
  let healthUrl: string | undefined;
  let metrics: Metrics | undefined;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const s of sinks) {
      s.keeper?.stop();
      if (s.retry !== undefined) scheduler.clear(s.retry);
    }
    await Promise.all([
      proxy?.close(5_000),
      health ? new Promise<void>((r) => { health!.close(() => r()); health!.closeAllConnections(); }) : undefined,
    ]);
    // The secret dies with this process: no file may outlive it. A refresh still in flight is
    // abandoned, not awaited: its result is never written (`stopped`), and files are only ever
    // replaced whole, so there is nothing to wait for.
    if (opts.proxy) removeFile(opts.proxy.secretFile);
    metrics?.close();
  };

  try {
    if (opts.health) {
      // Prometheus /metrics on the same listener (prom-client loads only here).
      metrics = await (await import('../audit/metrics.js')).startMetrics({ tokens: () => sinks.map((s) => ({ profile: s.spec.name, expiresAt: s.keeper?.current().expiresAt ?? null })), now: () => deps.clock.now() });
      health = createServer((req, res) => healthHandler(req, res, status, metrics));
      healthUrl = await listenHealth(health, opts.health);
    }
    if (opts.proxy) {
      const first = sinks[0]!;
      const secret = newProxySecret();
      proxy = await startProxy({
        upstream: first.spec.plan.baseUrl.value,
        secret,
        tokens: () => first.keeper,
        listen: opts.proxy.listen,
        clock: deps.clock,
        log,
        env: deps.env,
        ...(metrics ? { onResponse: metrics.observeProxied } : {}),
      });
      writeFileAtomic(opts.proxy.secretFile, `${secret}\n`, 0o600);
    }
    // Sinks start in parallel; a fatal error in any first attempt (bad configuration) stops the agent here.
    await Promise.all(sinks.map((s) => start(s)));
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    sinks: sinks.map((s) => ({ name: s.spec.name, credentialsPath: s.credentialsPath, configPath: s.configPath })),
    proxy,
    healthUrl,
    ready: () => sinks.every(sinkReady),
    alive: () => sinks.every(sinkAlive),
    status,
    firstTokens: async () => {
      await Promise.all(sinks.map((s) => s.first.promise));
    },
    fatal: fatalError,
    stop,
  };
}

/**
 * The consumers' profile: exactly the measured sidecar profile (sidecar.ts) for the default API.
 * A token is bound to the base URL it was minted at (spec §2), and a consumer here has no
 * ANTHROPIC_BASE_URL from claude-wif (unlike an exec child): a non-default base URL goes into the
 * profile, whose base_url the SDKs adopt when the caller pins none.
 */
export function sidecarProfileFor(plan: Plan): Record<string, unknown> {
  return plan.baseUrl.value === DEFAULT_BASE_URL ? { ...SIDECAR_PROFILE } : { version: SIDECAR_PROFILE.version, base_url: plan.baseUrl.value, authentication: { ...SIDECAR_PROFILE.authentication } };
}

/**
 * The directory: created 0700 when missing; an existing one (and its configs/ and credentials/)
 * must be a real directory owned by this user or root that no one else can write — a shared
 * emptyDir (0777) is refused; a subdirectory the agent creates itself is the fix. Leftover temp
 * files of an agent that was killed mid-write are removed: the targets are always whole (atomic rename).
 */
function prepareDir(dir: string, sinks: SinkSpec[], log: Pick<CoreDeps['log'], 'warn'>): void {
  for (const s of sinks) {
    if (resolvePath(s.plan.configDir.value) === dir) {
      throw new WifError('usage_error', `--dir ${dir} is the configuration directory profile "${s.name}" is read from; the agent would overwrite its own profiles`, {
        hint: 'give the agent a separate directory for its output (e.g. /run/claude-wif or a shared emptyDir), and point consumers at that',
      });
    }
  }
  const names = new Set<string>();
  for (const s of sinks) {
    if (names.has(s.name)) throw new WifError('usage_error', `profile "${s.name}" is named twice`);
    names.add(s.name);
  }
  // Whoever owns or can write --dir can rewrite the consumers' profile (base_url → theirs) and
  // receive the tokens; a link can point it at the SDK's own configuration (issue 15 item 3).
  // Refused rather than repaired: claude-wif never changes the mode of a directory it did not create.
  if (requireNotSymlink(dir, 'agent --dir')) requireTrustedDir(dir, 'agent --dir');
  else mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const sub of ['configs', 'credentials']) {
    const p = join(dir, sub);
    requireNotSymlink(p, `agent --dir ${sub}/`);
    ensurePrivateDir(p, `agent --dir ${sub}/`);
    const l = lstatSync(p);
    if (!l.isDirectory()) throw new WifError('insecure_file', `${p} is not a directory (a symlink?)`, { hint: `remove it; the agent creates it` });
    for (const name of readdirSync(p)) {
      // writeFileAtomic's temp files: .<target>.<pid>.<hex>.tmp
      if (/^\..+\.\d+\.[0-9a-f]+\.tmp$/.test(name)) removeFile(join(p, name));
    }
  }
  for (const name of readdirSync(dir)) if (/^\..+\.\d+\.[0-9a-f]+\.tmp$/.test(name)) removeFile(join(dir, name));
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone */
  }
}

function healthHandler(req: IncomingMessage, res: ServerResponse, status: () => { ready: boolean; alive: boolean; sinks: SinkStatus[] }, metrics?: Metrics): void {
  const path = (req.url ?? '/').split('?')[0];
  const send = (code: number, body: unknown): void => {
    const text = `${JSON.stringify(body)}\n`;
    res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'use GET' });
  if (path === '/metrics' && metrics) return metrics.serve(req, res);
  const s = status();
  if (path === '/livez' || path === '/healthz') return send(s.alive ? 200 : 503, { status: s.alive ? 'alive' : 'stuck', sinks: s.sinks });
  if (path === '/readyz') return send(s.ready ? 200 : 503, { status: s.ready ? 'ready' : 'not ready', sinks: s.sinks });
  if (path === '/') return send(200, { ready: s.ready, alive: s.alive, sinks: s.sinks });
  send(404, { error: 'not found: use /livez, /readyz, /metrics or /' });
}

export async function listenHealth(server: Server, a: ListenAddress): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new WifError('usage_error', `cannot listen on ${describeListen(a)} for --health: ${err.code ?? err.message}`, { hint: 'pick a free port' })),
    );
    if (a.kind === 'unix') server.listen(a.path, resolve);
    else server.listen(a.port, a.host, resolve);
  });
  if (a.kind === 'unix') return `unix:${a.path}`;
  const port = (server.address() as AddressInfo).port;
  return `http://${hostForUrl(a.host)}:${port}`;
}
