// Issue 7, item 4: property-based fuzzing with fast-check, seeded (the same inputs on every run)
// and bounded (numRuns, plus a time limit that ends a property early on a slow machine rather
// than the suite). Properties:
//  - profile JSON × environment through resolvePlan and through the CLI (`status --json`,
//    `token --format json`): never a crash, never internal_error, only codes from ERROR_CODES
//    with their documented exit codes;
//  - decodeJwt / preflightJwt on arbitrary strings and on structured near-JWTs;
//  - token-endpoint answers (random status, headers, body, some echoing the assertion) from a local
//    server, both through exchangeToken and through the CLI: only documented codes, and the
//    assertion never in any message, hint, detail or output.
// Shell quoting is fuzzed in fuzz-shells.test.ts. Nothing here reaches the network: every base
// URL is loopback or refused before a connection, and HTTPS_PROXY/HTTP_PROXY point at a closed
// loopback port for anything that would slip through.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePlan } from '../../src/core/resolve.js';
import { exchangeToken } from '../../src/exchange/token-endpoint.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { ERROR_CODES, WifError } from '../../src/util/errors.js';
import { decodeJwt, preflightJwt } from '../../src/util/jwt.js';
import { silentLogger } from '../../src/util/log.js';
import { fakeClock, runCli } from '../helpers/cli.js';
import { tempHome, type TempHome } from '../helpers/env.js';
import { leaksJwt } from '../helpers/faults.js';
import { closedPort, noCloud } from '../helpers/platforms.js';

const TIME_LIMIT_MS = 12_000;
const figures: string[] = [];

let h: TempHome;
let dead: number;
let sandbox: Sandbox;
beforeAll(async () => {
  h = tempHome();
  dead = await closedPort();
  // Belt and braces: whatever is not loopback goes to a proxy that is not there.
  process.env['HTTPS_PROXY'] = `http://127.0.0.1:${dead}`;
  process.env['HTTP_PROXY'] = `http://127.0.0.1:${dead}`;
  sandbox = await startSandbox();
  validJwt = await sandbox.mint({ lifetimeSeconds: 3600 });
});
afterAll(async () => {
  delete process.env['HTTPS_PROXY'];
  delete process.env['HTTP_PROXY'];
  await sandbox?.close();
  h?.cleanup();
  if (figures.length) console.log(`\nFuzzing (issue 7 item 4), fast-check seeded:\n${figures.map((f) => `  ${f}`).join('\n')}\n`);
});

/** Outcomes seen by the current property (shown in the report: which paths the inputs reached). */
let tally = new Map<string, number>();
const count = (outcome: string): void => void tally.set(outcome, (tally.get(outcome) ?? 0) + 1);

/** fc.check with a seed and the time limit; fails with fast-check's report, records the figures. */
async function check<T>(label: string, prop: fc.IPropertyWithHooks<T> | fc.IAsyncPropertyWithHooks<T>, seed: number, numRuns: number): Promise<void> {
  tally = new Map();
  const t0 = performance.now();
  const out = await fc.check(prop as fc.IAsyncPropertyWithHooks<T>, { seed, numRuns, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false });
  if (out.failed) throw new Error(fc.defaultReportMessage(out) ?? `${label}: property failed`);
  const outcomes = [...tally].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, n]) => `${k} ${n}`).join(', ');
  figures.push(`${label}: ${out.numRuns} runs (seed ${seed})${out.interrupted ? ', stopped by the time limit' : ''}, ${(performance.now() - t0).toFixed(0)} ms${outcomes ? `\n      outcomes (all runs, shrinking included): ${outcomes}` : ''}`);
}

const KNOWN = new Set(Object.keys(ERROR_CODES));

/** A thrown value must be a WifError with a documented, non-internal code. */
function documented(err: unknown): string | undefined {
  if (!(err instanceof WifError)) return `not a WifError: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
  if (!KNOWN.has(err.code)) return `unknown code ${err.code}`;
  if (err.code === 'internal_error') return `internal_error: ${err.message}`;
  if (err.exitCode !== ERROR_CODES[err.code].exit) return `exit ${err.exitCode} for ${err.code}`;
  return undefined;
}

// ------------------------------------------------------------------------------------------------
// Profiles and environments
// ------------------------------------------------------------------------------------------------

const junk = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }));
/** Mostly a valid value, now and then a broken one: a world with every field broken only ever meets the first check. */
const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>, goodWeight = 6) => fc.oneof({ weight: goodWeight, arbitrary: good }, { weight: 1, arbitrary: bad });
/** Present or absent (weights); absent is `undefined`, dropped by JSON.stringify. */
const sometimes = <T>(arb: fc.Arbitrary<T>, present = 1, absent = 1) => fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: present, arbitrary: arb });
/** A profile field: usually present and valid, sometimes absent, rarely of the wrong type. */
const field = <T>(arb: fc.Arbitrary<T>) => sometimes(mostly(arb, junk, 8), 3, 1);

const badIds = fc.oneof(fc.constantFrom('fdrl_', 'fdrl_x/y', 'svac_', 'wrkspc_', '00000000-0000-0000-0000', '', ' ', 'FDRL_X', 'wrkspc_a b'), fc.string({ maxLength: 12 }));
const ruleIds = mostly(fc.stringMatching(/^fdrl_[A-Za-z0-9]{1,10}$/), badIds);
const saIds = mostly(fc.stringMatching(/^svac_[A-Za-z0-9]{1,8}$/), badIds);
const wsIds = mostly(fc.oneof(fc.constant('default'), fc.stringMatching(/^wrkspc_[A-Za-z0-9]{1,8}$/)), badIds);
const orgIds = mostly(fc.uuid(), badIds);
/** Base URLs that can never reach the outside world: loopback (closed), refused before connecting, or not URLs. */
const baseUrls = () =>
  mostly(
    fc.constantFrom(`http://127.0.0.1:${dead}`, `http://localhost:${dead}/`, `https://127.0.0.1:${dead}`, `http://[::1]:${dead}`),
    fc.oneof(fc.constantFrom('http://example.invalid', 'ftp://127.0.0.1', 'not a url', '', 'https://', '//x'), fc.string({ maxLength: 12 }).filter((s) => !s.includes(':'))),
    3,
  );
/** A JWT the token endpoint would take (minted once, long-lived), or something that is not one. */
let validJwt = '';
const jwts = () => mostly(fc.constant(null).map(() => validJwt), fc.oneof(fc.constantFrom('eyJhbGciOiJSUzI1NiJ9.e30.sig', 'a.b.c', 'eyJ.eyJ.', ''), fc.string({ maxLength: 30 })), 2);
/** Paths inside the temporary home only (relative ones resolve against it). */
const paths = () => mostly(fc.constantFrom(join(h.home, 'jwt'), 'jwt'), fc.oneof(fc.constantFrom(join(h.home, 'missing'), 'sub/dir/jwt', '', join(h.home, 'bad.jwt')), fc.stringMatching(/^[a-z]{1,6}(\/[a-z]{1,6})?$/)), 3);
/** Identity sources that cannot run a program or reach a network peer in this environment. */
const sources = mostly(
  fc.constantFrom('file', 'env', 'auto', 'gcp', 'azure-imds', 'azure-app-service', 'azure-workload-identity', 'github-actions', 'spiffe', 'kubernetes', 'gitlab', 'terraform-cloud'),
  fc.oneof(fc.constantFrom('command-x', 'FILE', ''), fc.string({ maxLength: 8 }).filter((s) => !['command', 'aws', 'okta', 'buildkite', 'circleci'].includes(s))),
  3,
);

const profileDoc = () =>
  fc.record(
    {
      version: sometimes(mostly(fc.constantFrom('1.0', '1'), fc.constantFrom('1.5', '2.0', '', 'v1'), 4)),
      organization_id: field(orgIds),
      workspace_id: sometimes(wsIds, 1, 2),
      base_url: field(baseUrls()),
      authentication: mostly(
        fc.record(
          {
            type: mostly(fc.constantFrom('oidc_federation', 'oidc_federation', 'oidc_federation', 'user_oauth'), fc.constantFrom('oauth', '', 'OIDC_FEDERATION')),
            federation_rule_id: field(ruleIds),
            service_account_id: sometimes(saIds),
            identity_token: sometimes(mostly(fc.record({ source: fc.constant('file'), path: paths() }), fc.record({ source: sometimes(fc.constantFrom('env', 'x')), path: sometimes(paths()) }, { requiredKeys: [] }))),
            scope: sometimes(fc.string({ maxLength: 12 }), 1, 3),
            credentials_path: sometimes(paths(), 1, 4),
          },
          { requiredKeys: ['type'] },
        ),
        junk,
        10,
      ),
      claude_wif: sometimes(
        fc.record(
          {
            identity: sometimes(fc.record({ source: sometimes(sources), path: sometimes(paths()), audience: sometimes(fc.string({ maxLength: 12 })), variable: sometimes(fc.constantFrom('MY_JWT', 'ANTHROPIC_IDENTITY_TOKEN', '', '1BAD')) }, { requiredKeys: [] })),
            check_jti: sometimes(mostly(fc.boolean(), junk)),
            cache: sometimes(fc.constantFrom('file', 'keyring', 'x'), 1, 4),
          },
          { requiredKeys: [] },
        ),
        1,
        2,
      ),
    },
    { requiredKeys: [] },
  );

/** What is on disk: a profile document, or something that is not one. */
const profileFile = () => fc.oneof({ weight: 12, arbitrary: profileDoc().map((d) => JSON.stringify(d)) }, { weight: 1, arbitrary: fc.constantFrom('', '[]', 'null', '{', '"x"', '{"authentication":null}') }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) });

const profileNames = mostly(fc.constantFrom('p1', 'default'), fc.oneof(fc.constantFrom('missing', '', '.', '..', '.hidden', 'a/b', '../p1', 'x y', 'p1\n', 'ümlaut'), fc.string({ maxLength: 8 })), 3);

/** Each variable absent three times out of four, so that precedence between them is exercised. */
const envVar = <T>(arb: fc.Arbitrary<T>) => sometimes(arb, 1, 3);
const envVars = () =>
  fc.record(
    {
      ANTHROPIC_PROFILE: envVar(profileNames),
      ANTHROPIC_FEDERATION_RULE_ID: sometimes(ruleIds, 1, 1),
      ANTHROPIC_ORGANIZATION_ID: sometimes(orgIds, 1, 1),
      ANTHROPIC_SERVICE_ACCOUNT_ID: envVar(saIds),
      ANTHROPIC_WORKSPACE_ID: envVar(wsIds),
      ANTHROPIC_IDENTITY_TOKEN_FILE: envVar(paths()),
      ANTHROPIC_IDENTITY_TOKEN: envVar(jwts()),
      ANTHROPIC_BASE_URL: envVar(baseUrls()),
      ANTHROPIC_SCOPE: envVar(fc.string({ maxLength: 8 })),
      CLAUDE_WIF_IDENTITY_SOURCE: envVar(sources),
      CLAUDE_WIF_AUDIENCE: envVar(fc.string({ maxLength: 8 })),
      CLAUDE_WIF_CHECK_JTI: envVar(fc.constantFrom('0', '1', 'false', 'off', 'yes', '')),
      CLAUDE_WIF_TIMEOUT_MS: envVar(fc.constantFrom('1', '500', '-1', 'abc', '1e9', '')),
      CLAUDE_WIF_HTTP_TIMEOUT_MS: envVar(fc.constantFrom('1', '300', '0', 'x')),
      ANTHROPIC_API_KEY: envVar(fc.constantFrom('sk-ant-api03-fuzz-key-000000', '')),
      MY_JWT: envVar(jwts()),
    },
    { requiredKeys: [] },
  ).map((env) => Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === 'string')) as Record<string, string>);

interface World {
  file: string | undefined;
  active: string | undefined;
  env: Record<string, string>;
  configDirFlag: boolean;
}

const worlds = () =>
  fc.record({
    file: sometimes(profileFile(), 5, 1),
    active: sometimes(mostly(fc.constantFrom('p1', ' p1 \n'), fc.oneof(fc.constantFrom('missing', '../x', ''), fc.string({ maxLength: 6 })), 2), 1, 2),
    env: envVars(),
    configDirFlag: fc.boolean(),
  });

let worldCount = 0;
/** A fresh config dir holding `configs/p1.json` (and `default.json`) and maybe `active_config`. */
function materialise(w: World): { configDir: string; cacheDir: string } {
  const root = join(h.home, 'worlds', String(++worldCount));
  const configDir = join(root, 'config');
  mkdirSync(join(configDir, 'configs'), { recursive: true });
  if (w.file !== undefined) {
    writeFileSync(join(configDir, 'configs', 'p1.json'), w.file);
    writeFileSync(join(configDir, 'configs', 'default.json'), w.file);
  }
  if (w.active !== undefined) writeFileSync(join(configDir, 'active_config'), w.active);
  writeFileSync(join(h.home, 'jwt'), validJwt, { mode: 0o600 });
  writeFileSync(join(h.home, 'bad.jwt'), 'eyJhbGciOiJSUzI1NiJ9.e30.sig', { mode: 0o600 });
  return { configDir, cacheDir: join(root, 'cache') };
}

describe('fuzz: configuration', () => {
  it('resolvePlan on random profile files × environments: a plan, or a documented error', async () => {
    await check(
      'resolvePlan × (profile JSON, active_config, 16 variables)',
      fc.property(worlds(), (w) => {
        const { configDir, cacheDir } = materialise(w);
        const env = { HOME: h.home, CLAUDE_WIF_CACHE_DIR: cacheDir, ...(w.configDirFlag ? {} : { ANTHROPIC_CONFIG_DIR: configDir }), ...w.env };
        try {
          const plan = resolvePlan({ env, cwd: h.home, configDir: w.configDirFlag ? configDir : undefined });
          // A plan always names where its token is cached and, for federation, a rule and an org.
          count(`plan ${plan.kind}`);
          if (plan.kind === 'oidc_federation') {
            expect(plan.federationRuleId?.value).toBeTruthy();
            expect(plan.organizationId?.value).toBeTruthy();
          }
          expect(plan.cache.path).toBeTruthy();
        } catch (err) {
          const why = documented(err);
          if (why) throw new Error(why);
          count((err as WifError).code);
        } finally {
          rmSync(join(configDir, '..'), { recursive: true, force: true });
        }
      }),
      0xc0f1,
      400,
    );
  });

  it('the CLI (status --json, token --format json) on the same worlds: never exit 1, a documented error document', async () => {
    await check(
      'CLI status --json / token --format json × worlds',
      fc.asyncProperty(worlds(), fc.constantFrom(['status', '--json'], ['token', '--format', 'json'], ['credential-process']), fc.boolean(), async (w, args, named) => {
        const { configDir, cacheDir } = materialise(w);
        const env: Record<string, string> = {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          HOME: h.home,
          CLAUDE_WIF_CACHE_DIR: cacheDir,
          CLAUDE_WIF_METADATA_PROBE: 'never',
          HTTPS_PROXY: `http://127.0.0.1:${dead}`,
          HTTP_PROXY: `http://127.0.0.1:${dead}`,
          ...noCloud(dead),
          // The default base URL is the real API: never leave it to the default here.
          ANTHROPIC_BASE_URL: `http://127.0.0.1:${dead}`,
          ...w.env,
        };
        const argv = [...(w.configDirFlag ? ['--config-dir', configDir] : []), ...(named ? ['--profile', 'p1'] : []), ...args];
        if (!w.configDirFlag) env['ANTHROPIC_CONFIG_DIR'] = configDir;
        try {
          // A fake clock: retry backoffs pass at once (the peers are real, their timeouts too).
          const r = await runCli(argv, env, { cwd: h.home, clock: fakeClock(Date.now()) });
          count(r.code === 0 ? `${args[0]} ok` : (/\((\w+), exit \d+\)\n$/.exec(r.stderr)?.[1] ?? `exit ${r.code}`));
          if (r.code === 1) throw new Error(`exit 1 (internal error) for ${JSON.stringify(argv)}:\n${r.stderr}`);
          if (r.code !== 0) {
            const m = /\((\w+), exit (\d+)\)\n$/.exec(r.stderr);
            if (!m) throw new Error(`exit ${r.code} without the documented error line:\n${r.stderr}`);
            const code = m[1] as keyof typeof ERROR_CODES;
            if (!KNOWN.has(code) || ERROR_CODES[code].exit !== r.code) throw new Error(`exit ${r.code} with code ${code}`);
            if (args[0] !== 'credential-process') {
              const doc = JSON.parse(r.stdout) as { error: { code: string; exit_code: number } };
              if (doc.error.code !== code || doc.error.exit_code !== r.code) throw new Error(`stdout error document disagrees: ${r.stdout}`);
            }
          }
        } finally {
          rmSync(join(configDir, '..'), { recursive: true, force: true });
        }
      }),
      0xc11,
      150,
    );
  });
});

// ------------------------------------------------------------------------------------------------
// JWT decoding
// ------------------------------------------------------------------------------------------------

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const segment = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).map((v) => b64(JSON.stringify(v))),
  fc.dictionary(fc.constantFrom('alg', 'kid', 'typ', 'sub', 'iat', 'exp', 'nbf', 'iss', 'aud', 'jti'), fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.double(), fc.constant(null), fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }))).map((o) => b64(JSON.stringify(o))),
  fc.stringMatching(/^[A-Za-z0-9_-]{0,12}$/),
  fc.string({ maxLength: 8 }),
);
/** Around this instant (s): claims near it make the time checks (exp, iat, nbf, leeway) matter. */
const NOW = 1_800_000_000;
const near = mostly(fc.integer({ min: NOW - 4_000, max: NOW + 4_000 }), fc.oneof(fc.double(), fc.string({ maxLength: 4 }), fc.constant(null)), 6);
/** Header and payload built like a real token's, each part now and then wrong. */
const claimsJwt = fc
  .record({
    header: fc.record({ alg: mostly(fc.constantFrom('RS256', 'ES384', 'PS512'), fc.constantFrom('HS256', 'none', '', 'rs256')), kid: sometimes(mostly(fc.string({ minLength: 1, maxLength: 8 }), junk), 4, 1), typ: sometimes(fc.constant('JWT')) }, { requiredKeys: [] }),
    payload: fc.record({ sub: sometimes(mostly(fc.string({ minLength: 1, maxLength: 10 }), junk), 6, 1), iat: sometimes(near, 6, 1), exp: sometimes(near, 6, 1), nbf: sometimes(near, 1, 3), jti: sometimes(fc.string({ maxLength: 8 })), iss: sometimes(fc.string({ maxLength: 10 })), aud: sometimes(fc.oneof(fc.string({ maxLength: 8 }), fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }))) }, { requiredKeys: [] }),
    signature: mostly(fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/), fc.constantFrom('', 'a+b/', 'x.y')),
    padding: sometimes(fc.nat(20_000), 1, 20),
  })
  .map(({ header, payload, signature, padding }) => `${b64(JSON.stringify(header))}.${b64(JSON.stringify({ ...payload, ...(padding ? { pad: 'p'.repeat(padding) } : {}) }))}.${signature}`);
const nearJwt = fc.oneof(
  { weight: 4, arbitrary: claimsJwt },
  { weight: 2, arbitrary: fc.tuple(segment, segment, segment).map((p) => p.join('.')) },
  { weight: 1, arbitrary: fc.array(segment, { maxLength: 5 }).map((p) => p.join('.')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

describe('fuzz: JWT decoding', () => {
  it('decodeJwt and preflightJwt: a result, or identity_invalid / identity_expired', async () => {
    await check(
      'decodeJwt / preflightJwt × near-JWTs and arbitrary strings',
      fc.property(nearJwt, mostly(fc.integer({ min: NOW - 100, max: NOW + 100 }), fc.integer({ min: 0, max: 4_000_000_000 }), 3), (token, now) => {
        for (const f of [() => decodeJwt(token), () => preflightJwt(token, now)]) {
          try {
            f();
            count(f.toString().includes('preflight') ? 'preflight ok' : 'decoded');
          } catch (err) {
            count((err as WifError).code ?? 'thrown');
            const why = documented(err);
            if (why) throw new Error(why);
            const code = (err as WifError).code;
            if (code !== 'identity_invalid' && code !== 'identity_expired') throw new Error(`unexpected code ${code}`);
            if (token.length > 20 && (err as WifError).message.includes(token)) throw new Error('the message repeats the token');
          }
        }
      }),
      0x1a7,
      2000,
    );
  });
});

// ------------------------------------------------------------------------------------------------
// Token-endpoint answers
// ------------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A local endpoint answering request number `index` (counting from 0) with `next(request body, index)`. */
async function endpoint(next: (body: string, index: number) => Answer): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const state = { requests: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = next(Buffer.concat(chunks).toString('utf8'), state.requests++);
      res.on('error', () => {});
      try {
        res.writeHead(a.status, a.headers);
      } catch {
        res.writeHead(a.status); // a header node refuses to send: the body still goes
      }
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** An answer template; `@A` anywhere is replaced by the assertion the client sent (an echo). */
const texts = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('@A', 'bad assertion @A', '<html>@A</html>', `${'x'.repeat(280)}@A`, '{"error":"invalid_grant","error_description":"@A"}', '{"type":"error","error":{"type":"authentication_error","message":"@A"}}', 'assertion=@A&x=1'),
);
const tokenBodies = fc.oneof(
  { weight: 1, arbitrary: texts },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constant('{"access_token":"sk-ant-oat01-fuzzfuzzfuzzfuzz","token_type":"Bearer","expires_in":3600}') },
  { weight: 4, arbitrary: fc
    .record(
      {
        access_token: field(fc.oneof(fc.constantFrom('sk-ant-oat01-fuzzfuzzfuzzfuzz', ''), fc.string({ maxLength: 10 }))),
        token_type: field(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'mac', '', 'DPoP')),
        expires_in: field(fc.oneof(fc.integer({ min: -10, max: 100_000 }), fc.constantFrom('3600', 'soon', '1e400', null), fc.double())),
        scope: field(fc.string({ maxLength: 10 })),
        error: field(fc.oneof(texts, fc.record({ type: field(texts), message: field(texts) }, { requiredKeys: [] }))),
        error_description: field(texts),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)) },
);
const headerSets = fc.record(
  {
    'content-type': field(fc.constantFrom('application/json', 'text/html', 'text/plain; charset=utf-8', '')),
    'retry-after': field(fc.oneof(fc.constantFrom('0', '1', '3600', '-5', 'soon', 'Wed, 21 Oct 2015 07:28:00 GMT', '1.5'), fc.nat(100).map(String))),
    location: field(fc.constantFrom('https://elsewhere.example/v1/oauth/token?a=@A', '/v1/oauth/token', '@A')),
    'request-id': field(fc.oneof(fc.constantFrom('req_123', '@A', 'req_@A'), fc.stringMatching(/^[ -~]{0,20}$/))),
  },
  { requiredKeys: [] },
).map((hs) => Object.fromEntries(Object.entries(hs).filter(([, v]) => typeof v === 'string')) as Record<string, string>);
const statuses = mostly(fc.constantFrom(200, 200, 200, 201, 204, 301, 302, 307, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504), fc.integer({ min: 200, max: 599 }), 3);
const answers = fc.record({ status: statuses, headers: headerSets, body: tokenBodies });

const fill = (a: Answer, assertion: string): Answer => ({
  status: a.status,
  headers: Object.fromEntries(Object.entries(a.headers).map(([k, v]) => [k, v.replaceAll('@A', assertion)])),
  body: a.body.replaceAll('@A', assertion),
});

const EXCHANGE_CODES = new Set(['endpoint_failed', 'endpoint_timeout', 'endpoint_unreachable', 'invalid_response', 'exchange_denied', 'exchange_bad_request']);

describe('fuzz: token-endpoint answers', () => {
  it('exchangeToken: success only for a usable 2xx, otherwise a documented code, and the assertion never echoed', async () => {
    let seq: Answer[] = [{ status: 500, headers: {}, body: '' }];
    let first = 0;
    // Attempt k of the current run gets seq[k] (the last answer repeats).
    const ep = await endpoint((body, index) => fill(seq[Math.min(index - first, seq.length - 1)]!, (JSON.parse(body) as { assertion: string }).assertion));
    const assertion = await sandbox.mint();
    try {
      await check(
        'exchangeToken × random status/headers/body (with echoes)',
        fc.asyncProperty(fc.array(answers, { minLength: 1, maxLength: 3 }), async (answersForRun) => {
          seq = answersForRun;
          first = ep.requests;
          const before = first;
          const clock = fakeClock(Date.now());
          try {
            const r = await exchangeToken(
              { baseUrl: ep.url, assertion, federationRuleId: 'fdrl_sandbox', organizationId: sandbox.config.organization_id, userAgent: 'fuzz' },
              { clock, log: silentLogger, timeoutMs: 2_000, retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 1_000, deadline: clock.now() + 30_000 } },
            );
            const last = seq[Math.min(ep.requests - before - 1, seq.length - 1)]!;
            if (last.status < 200 || last.status > 299) throw new Error(`success on HTTP ${last.status}`);
            if (typeof r.accessToken !== 'string' || !r.accessToken || !Number.isFinite(r.expiresAt)) throw new Error(`unusable success ${JSON.stringify(r)}`);
            count('token');
          } catch (err) {
            count((err as WifError).code ?? 'thrown');
            const why = documented(err);
            if (why) throw new Error(why);
            if (!EXCHANGE_CODES.has((err as WifError).code)) throw new Error(`unexpected code ${(err as WifError).code}`);
            const shown = JSON.stringify((err as WifError).toJSON());
            if (leaksJwt(shown, assertion)) throw new Error(`the assertion leaked: ${shown}`);
          }
        }),
        0xe4c,
        500,
      );
    } finally {
      await ep.close();
    }
  });

  it('through the CLI (token --format json): exit 0 with a token, or a documented error; the assertion in neither stream', async () => {
    let answer: Answer = { status: 500, headers: {}, body: '' };
    const ep = await endpoint((body) => fill(answer, (JSON.parse(body) as { assertion: string }).assertion));
    const root = join(h.home, 'cli-exchange');
    const configDir = join(root, 'config');
    mkdirSync(join(configDir, 'configs'), { recursive: true });
    const jwtFile = join(root, 'jwt');
    writeFileSync(join(configDir, 'configs', 'default.json'), JSON.stringify({ ...sandbox.profile({ identityTokenPath: jwtFile }), base_url: ep.url }));
    let runs = 0;
    try {
      await check(
        'CLI token × random token-endpoint answers',
        fc.asyncProperty(answers, async (a) => {
          answer = a;
          const assertion = await sandbox.mint();
          writeFileSync(jwtFile, assertion, { mode: 0o600 });
          const env = {
            PATH: process.env['PATH'] ?? '',
            HOME: root,
            ANTHROPIC_CONFIG_DIR: configDir,
            CLAUDE_WIF_CACHE_DIR: join(root, 'cache', String(++runs)),
            CLAUDE_WIF_TIMEOUT_MS: '20000',
          };
          // A fake clock: Retry-After sleeps pass at once. --force-refresh: never a cached answer.
          const r = await runCli(['token', '--format', 'json', '--force-refresh'], env, { cwd: root, clock: fakeClock(Date.now()) });
          const out = r.stdout + r.stderr;
          count(r.code === 0 ? 'token' : (/\((\w+), exit \d+\)\n$/.exec(r.stderr)?.[1] ?? `exit ${r.code}`));
          if (leaksJwt(out, assertion)) throw new Error(`the assertion leaked:\n${out}`);
          if (r.code === 0) {
            if (a.status < 200 || a.status > 299) throw new Error(`exit 0 on HTTP ${a.status}`);
            return;
          }
          const doc = JSON.parse(r.stdout) as { error: { code: string; exit_code: number } };
          if (!EXCHANGE_CODES.has(doc.error.code) || ERROR_CODES[doc.error.code as keyof typeof ERROR_CODES].exit !== r.code) throw new Error(`exit ${r.code}: ${r.stdout}`);
        }),
        0xc1e,
        150,
      );
    } finally {
      await ep.close();
    }
  });
});
