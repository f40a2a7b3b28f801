import { accessSync, constants as fsConstants, existsSync, lstatSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkSecretFile, ownDocumentOrAbsent } from '../cache/file-store.js';
import { dirIssue, fileIssue, refuse, type TrustIssue } from '../util/trust.js';
import { CACHE_SUBDIRS } from '../cache/layout.js';
import { ledgerEntry } from '../cache/ledger.js';
import { cacheUnwritable, listLocks } from '../cache/lock.js';
import { isFresh } from '../cache/policy.js';
import { openTokenStore } from '../cache/store.js';
import { readEnv, resolveConfigDir, type Env } from '../config/paths.js';
import {
  DEFAULT_AUDIENCE,
  DEFAULT_BASE_URL,
  DEFAULT_TOKEN_LIFETIME_SECONDS,
  LEEWAY_SECONDS,
  MAX_MAX_JWT_LIFETIME_SECONDS,
  mintedTokenLifetime,
  TOKEN_PATH,
} from '../protocol.js';
import { SHADOWING_VARS, type Plan } from '../core/resolve.js';
import type { CoreDeps } from '../core/credentials.js';
import { nowSeconds } from '../util/clock.js';
import { toWifError, WifError } from '../util/errors.js';
import { describeAge } from '../util/jwt.js';
import { proxyRoute, shownProxy } from '../util/proxy-policy.js';
import { redact } from '../util/redact.js';
import { findBubblewrap, type BubblewrapProbe } from '../run/scrub.js';
import { scanClaudeSettings } from './claude-settings.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** One line of the doctor's report. The JSON report is a list of these (plus context), redacted. */
export interface CheckResult {
  /** Stable id: config_dir, profile, shadowing_env, claude_code_settings, proxy, cache, identity, identity_claims, jti_rotation, endpoint, clock_skew, exchange. */
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  fix?: string | undefined;
  /** The stable error code behind a failure, when there is one (README error table). */
  code?: string | undefined;
  exit?: number | undefined;
  data?: Record<string, unknown> | undefined;
}

export interface DoctorInput {
  env: Env;
  cwd: string;
  deps: CoreDeps;
  configDirFlag?: string | undefined;
  /** The plan, or the error resolving it. */
  plan: () => Plan;
  offline: boolean;
  /** Called before each check (drives the status line on a terminal). */
  progress?: (title: string) => void;
}


const fromError = (id: string, title: string, err: unknown, data?: Record<string, unknown>): CheckResult => {
  const e = toWifError(err);
  return { id, title, status: 'fail', detail: e.message, fix: e.hint, code: e.code, exit: e.exitCode, data };
};

const mode = (m: number) => (m & 0o7777).toString(8).padStart(4, '0');

/** The house trust rule for a directory (owner and write bits: issue 15 item 4), as a failed check. */
function dirProblem(path: string, label: string, id = 'config_dir', title = 'Config directory'): CheckResult | undefined {
  let issue: TrustIssue | undefined;
  try {
    issue = dirIssue(path, label);
  } catch {
    return undefined; // absent
  }
  // Anyone who owns or can write here can swap a profile (and point it at their own issuer or endpoint).
  return issue ? { id, title, status: 'fail', detail: issue.problem, fix: issue.fix, code: 'insecure_file', exit: 6 } : undefined;
}

export function checkConfigDir(env: Env, flag: string | undefined, plan: Plan | undefined): CheckResult {
  const dir = resolveConfigDir(env, flag);
  const title = 'Config directory';
  if (!existsSync(dir.value)) {
    return {
      id: 'config_dir',
      title,
      status: plan ? 'pass' : 'warn',
      detail: `${dir.value} (${dir.origin}) does not exist${plan ? '; the configuration comes from the environment' : ''}`,
      fix: plan ? undefined : 'create a profile with `claude-wif configure`',
    };
  }
  for (const [p, label] of [
    [dir.value, 'the config directory'],
    [join(dir.value, 'configs'), 'the profiles directory'],
  ] as const) {
    const problem = dirProblem(p, label);
    if (problem) return problem;
  }
  if (plan?.profile) {
    const issue = fileIssue(plan.profile.path, 'profile', statSync(plan.profile.path), { othersMayRead: true });
    if (issue) return { id: 'config_dir', title, status: 'fail', detail: issue.problem, fix: issue.fix, code: 'insecure_file', exit: 6 };
  }
  const creds = join(dir.value, 'credentials');
  try {
    const st = statSync(creds);
    if (st.mode & 0o077) {
      return {
        id: 'config_dir',
        title,
        status: 'warn',
        detail: `${creds} has mode ${mode(st.mode)}: other users can list cached credentials (the files themselves must be 0600)`,
        fix: `chmod 700 ${creds}`,
      };
    }
  } catch {
    /* no credentials yet */
  }
  return { id: 'config_dir', title, status: 'pass', detail: `${dir.value} (${dir.origin}), mode ${mode(statSync(dir.value).mode)}` };
}

export function checkProfile(plan: Plan | undefined, error: WifError | undefined): CheckResult {
  const title = 'Configuration';
  if (!plan) return fromError('profile', title, error);
  const what = plan.profile ? `profile "${plan.profile.name}" (${plan.profile.path})` : 'the federation environment variables';
  const other = plan.warnings.filter((w) => !SHADOWING_VARS.some((v) => w.startsWith(`${v} is set`)));
  const data = { selection: plan.selection, kind: plan.kind };
  if (other.length) return { id: 'profile', title, status: 'warn', detail: `${what}; ${other.join('; ')}`, data };
  return { id: 'profile', title, status: 'pass', detail: `${what}: ${plan.selection.reason}`, data };
}

export function checkShadowing(env: Env): CheckResult {
  const title = 'Shadowing variables';
  const set = SHADOWING_VARS.filter((v) => readEnv(env, v));
  if (!set.length) return { id: 'shadowing_env', title, status: 'pass', detail: `none of ${SHADOWING_VARS.join(', ')} is set` };
  // `eval "$(claude-wif env)"` sets these itself, with its expiry marker next to them.
  const ours = readEnv(env, 'CLAUDE_WIF_TOKEN_EXPIRES_AT') !== undefined && !set.includes('ANTHROPIC_API_KEY');
  if (ours) {
    return {
      id: 'shadowing_env',
      title,
      status: 'warn',
      detail: `${set.join(', ')} set by \`claude-wif env\` (CLAUDE_WIF_TOKEN_EXPIRES_AT is set): a static token that clients keep using until it expires`,
      fix: 'for long-running clients prefer `claude-wif exec -- <command>`, which keeps the token fresh',
      data: { set },
    };
  }
  return {
    id: 'shadowing_env',
    title,
    status: 'fail',
    detail: `${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set: the SDKs and Claude Code use ${set.length > 1 ? 'them' : 'it'} instead of federation`,
    fix: `unset ${set.join(' ')} (or run the client through \`claude-wif exec\`, which removes ${set.length > 1 ? 'them' : 'it'})`,
    data: { set },
  };
}

export function checkClaudeSettings(env: Env, cwd: string): CheckResult {
  const title = 'Claude Code settings';
  const scan = scanClaudeSettings(env, cwd);
  const data = { files: scan.files, findings: scan.findings.map(({ file, scope, key, severity }) => ({ file, scope, key, severity })) };
  const broken = scan.files.filter((f) => f.error);
  const worst = scan.findings.find((f) => f.severity === 'fail') ?? scan.findings[0];
  if (worst) {
    const more = scan.findings.length > 1 ? ` (and ${scan.findings.length - 1} more: ${scan.findings.slice(0, 4).filter((f) => f !== worst).map((f) => f.key).join(', ')})` : '';
    return {
      id: 'claude_code_settings',
      title,
      status: worst.severity,
      detail: `${worst.file}: ${worst.message}${more}`,
      fix: scan.findings.map((f) => f.fix).filter((v, i, a) => a.indexOf(v) === i).join('; '),
      data,
    };
  }
  if (broken.length) {
    return { id: 'claude_code_settings', title, status: 'warn', detail: `${broken[0]!.file} is ${broken[0]!.error}`, fix: `fix the JSON in ${broken[0]!.file}`, data };
  }
  const found = scan.files.filter((f) => f.exists).length;
  return { id: 'claude_code_settings', title, status: 'pass', detail: found ? `${found} settings file(s) checked: no apiKeyHelper, no credential overrides in env` : 'no Claude Code settings files', data };
}

/** What `claude-wif exec` will do about CLAUDE_CODE_SUBPROCESS_ENV_SCRUB on this host (src/run/scrub.ts). */
export function checkScrub(env: Env, probe: () => BubblewrapProbe = () => findBubblewrap(env)): CheckResult {
  const title = 'Subprocess scrubbing';
  const bwrap = probe();
  if (bwrap.path) {
    return {
      id: 'subprocess_scrub',
      title,
      status: 'pass',
      detail: `bubblewrap found (${bwrap.path}): \`claude-wif exec\` sets CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=1, so Claude Code's Bash tool, hooks and MCP servers do not see credentials`,
      data: { bwrap: bwrap.path, how: bwrap.how, exec_scrubs: true },
    };
  }
  return {
    id: 'subprocess_scrub',
    title,
    status: 'warn',
    detail: `bubblewrap not found (${bwrap.how}): \`claude-wif exec\` starts Claude Code without CLAUDE_CODE_SUBPROCESS_ENV_SCRUB (it refuses to start with it and no bubblewrap), so its Bash tool, hooks and MCP servers can see the credentials the mode gives the child`,
    fix: 'install bubblewrap (apt-get install bubblewrap), or use `exec --mode proxy` so the child holds no token; `--no-scrub` makes this choice explicit',
    data: { bwrap: null, how: bwrap.how, exec_scrubs: false },
  };
}

/**
 * What the HTTP client will do for the token endpoint, read from the same policy it follows
 * (util/proxy-policy.ts): which variable, which proxy, which NO_PROXY entry, what is ignored.
 * Proxy values are shown as scheme, host and port only (they may carry user:password).
 */
export function checkProxy(env: Env, baseUrl: string): CheckResult {
  const title = 'Proxy settings';
  const url = new URL(baseUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const route = proxyRoute(url, env);
  const shown = (name: string) => (readEnv(env, name) ? `${name}=${shownProxy(readEnv(env, name)!)}` : undefined);
  const set = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'].map(shown).filter((v): v is string => v !== undefined);
  const noProxy = route.noProxyVariable ? readEnv(env, route.noProxyVariable) : (readEnv(env, 'no_proxy') ?? readEnv(env, 'NO_PROXY'));
  const data = {
    route: route.via,
    why: route.why,
    variable: route.variable ?? null,
    proxy: route.value ? shownProxy(route.value) : null,
    https_proxy: route.variable && /^https_proxy$/i.test(route.variable) && route.value ? shownProxy(route.value) : null,
    all_proxy: readEnv(env, 'all_proxy') ?? readEnv(env, 'ALL_PROXY') ? shownProxy((readEnv(env, 'all_proxy') ?? readEnv(env, 'ALL_PROXY'))!) : null,
    no_proxy: noProxy ?? null,
    no_proxy_entry: route.noProxyEntry ?? null,
    ignored: route.ignored,
    base_url_host: host,
  };
  const loopback = /^(localhost|127\.\d+\.\d+\.\d+|::1)$/i.test(host);
  const outcome =
    route.why === 'proxy'
      ? `goes through the proxy in ${route.variable} (${shownProxy(route.value!)})${url.protocol === 'https:' ? ', over a CONNECT tunnel' : ''}`
      : route.why === 'no_proxy'
        ? `is reached directly (${route.noProxyVariable} entry ${route.noProxyEntry})`
        : route.why === 'local'
          ? `is reached directly (${loopback ? 'loopback' : 'link-local or metadata host'})`
          : `is reached directly (no ${url.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY'} set)`;
  const ignored = route.ignored.map((i) => `${i.name} is ignored: ${i.why}`);
  const detail = [...(set.length ? [set.join(', ')] : []), `${host} ${outcome}`, ...ignored, 'metadata and link-local endpoints never use a proxy'].join('; ');
  if (route.error) {
    return { id: 'proxy', title, status: 'fail', detail: `${route.variable} is set but unusable: ${route.error.message}; requests to ${host} fail`, fix: 'set it to http://host:port (or unset it)', code: 'config_invalid', exit: 2, data };
  }
  return { id: 'proxy', title, status: ignored.length ? 'warn' : 'pass', detail, ...(ignored.length ? { fix: `unset what is ignored, or set ${url.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY'} if a proxy is needed` } : {}), data };
}

export async function checkCache(plan: Plan, deps: CoreDeps): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const title = 'Token cache';
  const store = await openTokenStore(plan, deps);
  const now = nowSeconds(deps.clock);
  try {
    const c = store.read();
    // The file behind a keyring profile still has to be safe: it is the fallback.
    if (store.backend === 'keyring') checkSecretFile(plan.cache.path);
    if (!plan.cache.mounted) {
      // What `token` would refuse: a foreign document at credentials_path (never replaced), and a
      // credentials directory another user owns or can write (sticky or not), even before any file exists.
      ownDocumentOrAbsent(plan.cache.path);
      const credDir = dirname(plan.cache.path);
      const issue = existsSync(credDir) ? dirIssue(credDir, 'the directory of credentials file') : undefined;
      if (issue) throw refuse(issue);
    }
    const where = store.backend === 'keyring' ? store.location : plan.cache.path;
    let state = 'empty: the next call exchanges';
    if (c) {
      const left = c.expiresAt === null ? null : c.expiresAt - now;
      state = left === null ? 'a token with no recorded expiry' : left <= 0 ? `expired ${describeAge(-left)} ago: the next call exchanges` : isFresh(c, now) ? `a token valid for ${describeAge(left)}` : `a token inside its refresh window (${describeAge(left)} left)`;
    }
    if (store.degraded) {
      out.push({
        id: 'cache',
        title,
        status: 'warn',
        detail: `the keyring is configured (${plan.cache.backendOrigin}) but unavailable: ${store.degraded}; using ${plan.cache.path}: ${state}`,
        fix: 'install a Secret Service (gnome-keyring) or run inside a session keyring, or set "cache": "file" to silence this',
      });
    } else out.push({ id: 'cache', title, status: 'pass', detail: `${where} (${store.backend}): ${state}` });
  } catch (err) {
    out.push(fromError('cache', title, err));
  }
  // claude-wif's own directory: ledger and locks.
  const dir = plan.cacheDir.value;
  for (const sub of ['', ...CACHE_SUBDIRS]) {
    const p = join(dir, sub);
    try {
      const problem = dirProblem(p, sub ? `the cache's ${sub}/ directory` : 'the cache directory', 'cache_dir', 'Cache directory');
      if (problem) {
        out.push(problem);
        return out;
      }
    } catch {
      /* absent */
    }
  }
  // What `token` would refuse as cache_unwritable (item 9): the cache directory (or, before it
  // exists, the nearest existing parent) must be writable for the lock and the single-use ledger.
  let probe = dir;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    accessSync(probe, fsConstants.W_OK);
  } catch (err) {
    const e = cacheUnwritable(err, dir);
    if (e) {
      out.push({ id: 'cache_dir', title: 'Cache directory', status: 'fail', detail: e.message, fix: e.hint, code: 'cache_unwritable', exit: 6 });
      return out;
    }
  }
  const stale = listLocks(dir, deps.clock.now()).filter((l) => !l.held).length;
  out.push({
    id: 'cache_dir',
    title: 'Cache directory',
    status: 'pass',
    detail: `${dir} (${plan.cacheDir.origin})${stale ? `; ${stale} lock file(s) not held by a live process, freed by the next refresh (\`claude-wif cache clear --all\` removes them)` : ''}`,
    data: { stale_locks: stale },
  });
  return out;
}

export interface IdentityOutcome {
  result: CheckResult[];
  ok: boolean;
}

/** The identity source: can it produce a JWT now, and does the JWT fit the profile and the issuer's rules? */
export async function checkIdentity(plan: Plan, deps: CoreDeps, offline: boolean, timeoutMs: number): Promise<IdentityOutcome> {
  const title = 'Identity source';
  if (plan.kind !== 'oidc_federation' || !plan.identity) {
    return { ok: true, result: [{ id: 'identity', title, status: 'skip', detail: 'user_oauth profile: another process keeps its token file fresh' }] };
  }
  const [{ chooseSource, inspectJwt, maxJwtLifetime }, { loadSource }] = await Promise.all([import('../identity/inspect.js'), import('../identity/source.js')]);
  let name = plan.identity.source.value;
  let why = plan.identity.source.origin;
  let chosen;
  try {
    chosen = await chooseSource(plan.identity, deps.env);
    name = chosen.name;
    if (plan.identity.source.value === 'auto') why = chosen.reason;
    const source = await loadSource(name);
    if (offline && source.mintsOnDemand) {
      return { ok: true, result: [{ id: 'identity', title, status: 'skip', detail: `${name} (${why}) fetches over the network; skipped with --offline` }] };
    }
  } catch (err) {
    return { ok: false, result: [fromError('identity', title, err, { source: name })] };
  }
  const { fetchIdentity } = await import('../core/identity.js');
  let got;
  try {
    got = await fetchIdentity(plan, deps, timeoutMs, undefined, chosen);
  } catch (err) {
    return { ok: false, result: [fromError('identity', title, err, { source: name, why })] };
  }
  const c = got.claims;
  const now = nowSeconds(deps.clock);
  const left = c.exp - now;
  const result: CheckResult[] = [
    {
      id: 'identity',
      title,
      status: 'pass',
      detail: `${got.source} (${got.reason}) gave a JWT: iss ${c.iss ?? '(none)'}, sub ${c.sub}, aud ${c.aud.join(' ') || '(none)'}, expires in ${describeAge(left)}`,
      data: { source: got.source, reason: got.reason, mints_on_demand: got.mintsOnDemand, claims: { iss: c.iss, sub: c.sub, aud: c.aud, iat: c.iat, exp: c.exp, has_jti: c.jti !== undefined }, header: { alg: c.header['alg'], kid: c.header['kid'] } },
    },
  ];

  // Claims against the profile and the issuer's limits (identity/inspect.ts, as `identity` reports them).
  const problems: Array<{ status: 'warn' | 'fail'; text: string; fix: string }> = [];
  const inspected = inspectJwt(got.jwt, { source: got.source, options: chosen.options, now, maxLifetime: maxJwtLifetime(plan.profile ? { path: plan.profile.path, own: plan.profile.file.own } : undefined) });
  const { expected, configured } = inspected.audience;
  if (!inspected.audience.matches) {
    problems.push(
      configured
        ? { status: 'fail', text: `the JWT's aud (${c.aud.join(' ') || 'none'}) lacks the configured audience ${expected}`, fix: 'the source did not honour the audience: check its configuration (for files: the projected token\'s audience)' }
        : { status: 'warn', text: `the JWT's aud is ${c.aud.join(' ') || 'missing'}, not the recommended ${expected ?? DEFAULT_AUDIENCE}`, fix: 'the federation rule\'s audience must equal one of these values exactly (Entra sources use api://<APP_ID>)' },
    );
  }
  const lifetime = c.exp - c.iat;
  const maxLifetime = inspected.lifetime!.max;
  if (!inspected.lifetime!.withinAnyIssuer) {
    problems.push({ status: 'fail', text: `the JWT lives ${describeAge(lifetime)} (exp − iat), more than any issuer may allow (${MAX_MAX_JWT_LIFETIME_SECONDS} s)`, fix: 'request shorter-lived JWTs from the platform' });
  } else if (!inspected.lifetime!.withinIssuer) {
    problems.push({
      status: 'warn',
      text: `the JWT lives ${lifetime} s (exp − iat), more than ${maxLifetime.value} s${maxLifetime.origin === 'the issuer default' ? ' (the issuer default)' : ''}: the exchange is refused unless the issuer's max_jwt_lifetime_seconds is at least ${lifetime}`,
      fix: `raise max_jwt_lifetime_seconds on the issuer (Console → Workload identity federation), or request shorter JWTs; record it in the profile as "claude_wif": {"max_jwt_lifetime_seconds": ${lifetime}}`,
    });
  }
  if (left < 60) problems.push({ status: 'warn', text: `the JWT expires in ${describeAge(left)}`, fix: 'the platform should hand out fresher tokens; check the rotation of the source' });
  result.push(
    problems.length
      ? {
          id: 'identity_claims',
          title: 'JWT vs profile',
          status: problems.some((p) => p.status === 'fail') ? 'fail' : 'warn',
          detail: problems.map((p) => p.text).join('; '),
          fix: problems.map((p) => p.fix).join('; '),
          code: problems.some((p) => p.status === 'fail') ? 'identity_invalid' : undefined,
          exit: problems.some((p) => p.status === 'fail') ? 3 : undefined,
        }
      : { id: 'identity_claims', title: 'JWT vs profile', status: 'pass', detail: `audience ${expected}, lifetime ${lifetime} s ≤ ${maxLifetime.value} s` },
  );

  // Single use: a source that cannot mint on demand must rotate faster than tokens expire.
  const rotTitle = 'Single-use jti';
  if (!plan.checkJti.enabled) {
    result.push({ id: 'jti_rotation', title: rotTitle, status: 'pass', detail: `not enforced locally (${plan.checkJti.origin})` });
  } else if (got.mintsOnDemand) {
    result.push({ id: 'jti_rotation', title: rotTitle, status: 'pass', detail: `${got.source} mints a fresh JWT for every exchange` });
  } else {
    const used = ledgerEntry(plan.cacheDir.value, c.iss, c.assertionId) !== undefined;
    // Kubelet and spiffe-helper rotate at about 80 % of the JWT's life.
    const rotation = Math.round(lifetime * 0.8);
    const tokenLifetime = mintedTokenLifetime(DEFAULT_TOKEN_LIFETIME_SECONDS, left);
    const notes: string[] = [];
    // Already used is normal while a cached token lasts until the platform writes the next JWT.
    let cachedUntil: number | null | undefined;
    try {
      cachedUntil = (await openTokenStore(plan, deps)).read()?.expiresAt;
    } catch {
      cachedUntil = undefined;
    }
    const nextJwt = c.iat + rotation;
    const covered = cachedUntil === null || (typeof cachedUntil === 'number' && cachedUntil - LEEWAY_SECONDS >= nextJwt);
    if (used && !covered) notes.push(`this JWT was already exchanged and no cached token lasts until the platform rotates it (about ${describeAge(Math.max(0, nextJwt - now))} from now): until then exchanges are refused as replays`);
    if (rotation > tokenLifetime * 2) notes.push(`a new JWT appears about every ${describeAge(rotation)}, but an access token minted now lives at most ${describeAge(tokenLifetime)}: refreshes in between are refused as replays`);
    result.push(
      notes.length
        ? {
            id: 'jti_rotation',
            title: rotTitle,
            status: 'warn',
            detail: notes.join('; '),
            fix: 'use a source that mints on demand, rotate the file more often, raise the rule\'s token_lifetime_seconds, or (if the issuer has check_jti off) set "claude_wif": {"check_jti": false}',
            data: { used, rotation_seconds: rotation, has_jti: c.jti !== undefined },
          }
        : {
            id: 'jti_rotation',
            title: rotTitle,
            status: 'pass',
            detail: `${used ? 'this JWT was exchanged and the cached token lasts until the next one' : 'this JWT has not been exchanged from here'}; ${got.source} rotates about every ${describeAge(rotation)}`,
            data: { used, rotation_seconds: rotation },
          },
    );
  }
  return { ok: !result.some((r) => r.status === 'fail'), result };
}

/**
 * Reachability of the token endpoint and the clock skew from its Date header: a GET carries no
 * credential, and any HTTP answer (405, 404…) proves the path works.
 */
export async function checkEndpoint(plan: Plan, deps: CoreDeps, timeoutMs: number): Promise<{ result: CheckResult[]; ok: boolean }> {
  const title = 'Token endpoint';
  const { requireSecureEndpoint } = await import('../exchange/token-endpoint.js');
  const url = `${plan.baseUrl.value}${TOKEN_PATH}`;
  try {
    requireSecureEndpoint(plan.baseUrl.value);
  } catch (err) {
    return { ok: false, result: [fromError('endpoint', title, err), { id: 'clock_skew', title: 'Clock skew', status: 'skip', detail: 'the endpoint was not contacted' }] };
  }
  const { httpRequest, header, HttpTransportError } = await import('../util/http.js');
  const { userAgent } = await import('../version.js');
  const t0 = deps.clock.now();
  const started = Date.now();
  let res;
  try {
    res = await httpRequest({ url, method: 'GET', headers: { 'user-agent': userAgent(), accept: 'application/json' }, timeoutMs, maxBytes: 64 * 1024 });
  } catch (err) {
    const e =
      err instanceof HttpTransportError
        ? new WifError(err.kind === 'timeout' ? 'endpoint_timeout' : 'endpoint_unreachable', `${url}: ${err.message}`, {
            hint: `check network access to ${new URL(url).host}, the proxy settings (HTTPS_PROXY/NO_PROXY) and base_url (${plan.baseUrl.origin})`,
          })
        : err;
    return { ok: false, result: [fromError('endpoint', title, e), { id: 'clock_skew', title: 'Clock skew', status: 'skip', detail: 'the endpoint did not answer' }] };
  }
  const elapsed = Date.now() - started;
  const result: CheckResult[] = [
    { id: 'endpoint', title, status: 'pass', detail: `${url} answered HTTP ${res.status} in ${elapsed} ms`, data: { url, status: res.status, ms: elapsed } },
  ];
  const date = header(res, 'date');
  const serverMs = date ? Date.parse(date) : NaN;
  if (!Number.isFinite(serverMs)) {
    result.push({ id: 'clock_skew', title: 'Clock skew', status: 'skip', detail: 'the endpoint sent no Date header' });
  } else {
    // Compare with the middle of the request; the Date header has 1 s resolution.
    const local = t0 + elapsed / 2;
    const skew = Math.round((local - serverMs) / 1000);
    const abs = Math.abs(skew) <= 1 ? 0 : Math.abs(skew);
    const dir = skew > 0 ? 'ahead of' : 'behind';
    const data = { skew_seconds: skew, server_date: date };
    if (abs > LEEWAY_SECONDS) {
      result.push({ id: 'clock_skew', title: 'Clock skew', status: 'fail', detail: `this machine's clock is ${abs} s ${dir} the token endpoint's; it allows ${LEEWAY_SECONDS} s on iat/nbf/exp, so fresh JWTs look expired or not yet valid`, fix: 'synchronise the clock (NTP: timedatectl set-ntp true, chronyd, w32tm /resync)', code: 'identity_invalid', exit: 3, data });
    } else if (abs > 5) {
      result.push({ id: 'clock_skew', title: 'Clock skew', status: 'warn', detail: `this machine's clock is ${abs} s ${dir} the token endpoint's (the server allows ${LEEWAY_SECONDS} s)`, fix: 'synchronise the clock (NTP)', data });
    } else {
      result.push({ id: 'clock_skew', title: 'Clock skew', status: 'pass', detail: abs ? `${abs} s ${dir} the token endpoint` : 'within 1 s of the token endpoint', data });
    }
  }
  return { ok: true, result };
}

export async function checkExchange(plan: Plan, deps: CoreDeps): Promise<CheckResult> {
  const title = 'Exchange';
  const { getAccessToken } = await import('../core/credentials.js');
  try {
    const t = await getAccessToken(plan, {}, deps);
    const left = t.expiresAt === null ? null : t.expiresAt - nowSeconds(deps.clock);
    const life = left === null ? 'no recorded expiry' : `valid for ${describeAge(left)}`;
    return t.fromCache
      ? { id: 'exchange', title, status: 'pass', detail: `a cached token is ${life}; no exchange was needed (\`claude-wif cache clear\` then doctor exchanges for real)`, data: { from_cache: true, expires_in: left } }
      : { id: 'exchange', title, status: 'pass', detail: `exchanged a JWT for a token ${life}${t.scope ? ` (scope ${t.scope})` : ''}; cached in ${t.cachePath}`, data: { from_cache: false, expires_in: left, scope: t.scope } };
  } catch (err) {
    return fromError('exchange', title, err);
  }
}

/** Every check, in the order a support engineer would ask. */
export async function runChecks(input: DoctorInput): Promise<CheckResult[]> {
  const { env, deps } = input;
  const results: CheckResult[] = [];
  const step = (t: string) => input.progress?.(t);
  let plan: Plan | undefined;
  let planError: WifError | undefined;
  try {
    plan = input.plan();
  } catch (err) {
    planError = toWifError(err);
  }
  step('config directory');
  results.push(checkConfigDir(env, input.configDirFlag, plan));
  results.push(checkProfile(plan, planError));
  results.push(checkShadowing(env));
  step('Claude Code settings');
  results.push(checkClaudeSettings(env, input.cwd));
  results.push(checkScrub(env));
  results.push(checkProxy(env, plan?.baseUrl.value ?? DEFAULT_BASE_URL));
  if (!plan) {
    for (const [id, title] of [
      ['cache', 'Token cache'],
      ['identity', 'Identity source'],
      ['endpoint', 'Token endpoint'],
      ['exchange', 'Exchange'],
    ] as const) {
      results.push({ id, title, status: 'skip', detail: 'no usable configuration (see above)' });
    }
    return results.map(redactResult);
  }
  step('token cache');
  results.push(...(await checkCache(plan, deps)));
  const { timeouts } = await import('../core/credentials.js');
  const timeoutMs = Math.min(timeouts(env).requestMs, 10_000);
  step('identity source');
  const identity = await checkIdentity(plan, deps, input.offline, timeoutMs);
  results.push(...identity.result);
  if (input.offline) {
    results.push({ id: 'endpoint', title: 'Token endpoint', status: 'skip', detail: 'skipped with --offline' });
    results.push({ id: 'clock_skew', title: 'Clock skew', status: 'skip', detail: 'skipped with --offline (it is measured against the token endpoint)' });
    results.push({ id: 'exchange', title: 'Exchange', status: 'skip', detail: 'skipped with --offline' });
    return results.map(redactResult);
  }
  step('token endpoint');
  const endpoint = await checkEndpoint(plan, deps, Math.min(timeoutMs, 5_000));
  results.push(...endpoint.result);
  step('exchange');
  if (!endpoint.ok) results.push({ id: 'exchange', title: 'Exchange', status: 'skip', detail: 'the token endpoint is not reachable' });
  else if (!identity.ok && plan.kind === 'oidc_federation') results.push({ id: 'exchange', title: 'Exchange', status: 'skip', detail: 'no usable identity token' });
  else results.push(await checkExchange(plan, deps));
  return results.map(redactResult);
}

/** Belt and braces: every string in a result passes the one redactor (messages already do). */
function redactResult(r: CheckResult): CheckResult {
  return { ...r, detail: redact(r.detail), ...(r.fix ? { fix: redact(r.fix) } : {}) };
}

