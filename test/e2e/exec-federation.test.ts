import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { githubPeer, type Peer } from '../helpers/platforms.js';
import { assertNoSecrets } from '../helpers/cli.js';
import { FIXTURES, leftoverSidecars, nodeChild, runToEnd, spawnBin, startWorld, type WifWorld } from './exec-helpers.js';

// `exec --mode federation`: the child exchanges for itself (the SDK's native federation, from the
// variables claude-wif sets) while the parent keeps the identity file it reads fresh.

const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').pop()!) as T;
const K = 8;
const LIFETIME = 60;
const REQUEST_TOKEN = 'gh-request-token-federation-0001';

let world: WifWorld | undefined;
let gh: Peer | undefined;
afterEach(async () => {
  await gh?.close();
  await world?.stop();
  world = undefined;
  gh = undefined;
});

describe('exec --mode federation with a source that mints on demand (GitHub Actions)', () => {
  it(
    'an SDK child performs its own exchanges across more than 3 refreshes, each with a never-exchanged JWT',
    async () => {
      const t0 = Date.now();
      world = await startWorld({
        now: () => Math.floor(t0 + (Date.now() - t0) * K),
        tokenLifetime: LIFETIME,
        extraEnv: {
          NODE_OPTIONS: `--import=${pathToFileURL(join(FIXTURES, 'timewarp.mjs')).href}`,
          WIF_TIMEWARP_FACTOR: String(K),
          WIF_TIMEWARP_T0: String(t0),
          // With 60 s tokens the SDK is always inside its 120 s advisory window: every call starts a
          // background exchange. One call every 20 s (warped) is one child refresh every 20 s.
          RUN_FOR_MS: String(7 * 20_000),
          CALL_EVERY_MS: '20000',
          ANTHROPIC_PROFILE: 'fed',
        },
      });
      const w = world;
      const peer = await githubPeer((o) => w.sandbox.mint(o), REQUEST_TOKEN);
      gh = peer;
      writeFileSync(
        join(w.home.configDir, 'configs', 'fed.json'),
        JSON.stringify({ ...w.sandbox.profile(), claude_wif: { identity: { source: 'github-actions' } } }),
      );
      const env = { ...w.env, ACTIONS_ID_TOKEN_REQUEST_URL: `${peer.url}/_apis/token?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN };
      const run = spawnBin(['exec', '--mode', 'federation', '--', process.execPath, join(FIXTURES, 'sdk-child.mjs')], env);
      const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
      const { code, signal } = await run.exited;
      clearTimeout(timer);
      expect({ code, signal }, `stdout: ${run.stdout()}\nstderr: ${run.stderr()}`).toEqual({ code: 0, signal: null });
      const report = lastJson<{ ok: number; failed: number }>(run.stdout());
      expect(report).toMatchObject({ ok: 8, failed: 0 });

      const exchanges = w.sandbox.exchanges;
      const parent = exchanges.filter((e) => /^claude-wif\//.test(e.headers['user-agent'] ?? ''));
      const child = exchanges.filter((e) => !/^claude-wif\//.test(e.headers['user-agent'] ?? ''));
      // The parent never exchanges in this mode (no wasted token at start); the child did it all.
      expect(parent).toHaveLength(0);
      expect(child.every((e) => /^Anthropic\/JS /.test(e.headers['user-agent'] ?? ''))).toBe(true);
      expect(child.length).toBeGreaterThanOrEqual(4); // the first exchange and at least 3 refreshes
      expect(exchanges.map((e) => [e.status, e.reason])).toEqual(exchanges.map(() => [200, undefined]));
      // No jti was ever presented twice, and the parent never exchanged a JWT it gave the child.
      const assertions = exchanges.map((e) => e.assertion);
      expect(new Set(assertions).size).toBe(assertions.length);
      expect(w.sandbox.apiCalls.filter((c) => c.path.startsWith('/v1/messages')).map((c) => c.status)).toEqual(Array(8).fill(200));
      assertNoSecrets(run.stderr(), [...w.secrets(), ...(assertions as string[])]);
      expect(leftoverSidecars(w.env)).toEqual([]);
    },
    80_000,
  );
});

describe('exec --mode federation with a file the platform rotates', () => {
  it('passes the platform file through, says what single-use jti means on stderr, and the child exchanges', async () => {
    world = await startWorld();
    const w = world;
    const probe = `import { readFileSync } from 'node:fs';
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('ANTHROPIC_')));
const dir = process.env.ANTHROPIC_CONFIG_DIR;
env.PROFILE_JSON = readFileSync(dir + '/configs/' + process.env.ANTHROPIC_PROFILE + '.json', 'utf8');
env.ACTIVE = readFileSync(dir + '/active_config', 'utf8');
console.log(JSON.stringify(env))`;
    const r = await runToEnd(['exec', '--mode', 'federation', '--', ...nodeChild(probe)], { ...w.env, ANTHROPIC_API_KEY: 'sk-ant-api03-parent-0123456789' });
    expect(r.code, r.stderr).toBe(0);
    const env = lastJson<Record<string, string>>(r.stdout);
    const profile = w.sandbox.profile() as { organization_id: string; authentication: { federation_rule_id: string; service_account_id: string } };
    expect(env).toMatchObject({
      ANTHROPIC_FEDERATION_RULE_ID: profile.authentication.federation_rule_id,
      ANTHROPIC_ORGANIZATION_ID: profile.organization_id,
      ANTHROPIC_SERVICE_ACCOUNT_ID: profile.authentication.service_account_id,
      ANTHROPIC_IDENTITY_TOKEN_FILE: join(w.home.home, 'identity', 'token.jwt'),
      ANTHROPIC_BASE_URL: w.sandbox.url,
    });
    expect(env['ANTHROPIC_CONFIG_DIR']).toMatch(/claude-wif-exec-\d+-/);
    for (const gone of ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_WORKSPACE_ID']) expect(env[gone], gone).toBeUndefined();
    // A complete SDK config directory (the Python SDK requires one when ANTHROPIC_CONFIG_DIR is set).
    expect(env['ANTHROPIC_PROFILE']).toBe('exec-test');
    expect(env['ACTIVE']!.trim()).toBe('exec-test');
    expect(JSON.parse(env['PROFILE_JSON']!)).toEqual({
      version: '1.0',
      organization_id: profile.organization_id,
      base_url: w.sandbox.url,
      authentication: {
        type: 'oidc_federation',
        federation_rule_id: profile.authentication.federation_rule_id,
        service_account_id: profile.authentication.service_account_id,
        identity_token: { source: 'file', path: join(w.home.home, 'identity', 'token.jwt') },
      },
    });
    expect(r.stderr).toMatch(/warning: --mode federation: the identity source "file" cannot mint a JWT on demand, so the child reads the platform's own file .*single-use jti/);
    // Nothing was exchanged by the parent: the platform's JWT is left for the child.
    expect(w.sandbox.exchanges).toHaveLength(0);

    const sdk = await runToEnd(['exec', '--mode', 'federation', '--', process.execPath, join(FIXTURES, 'sdk-child.mjs')], { ...w.env, RUN_FOR_MS: '0' });
    expect(sdk.code, sdk.stderr + sdk.stdout).toBe(0);
    expect(w.sandbox.exchanges.map((e) => e.status)).toEqual([200]);
    expect(w.sandbox.exchanges[0]!.headers['user-agent']).toMatch(/^Anthropic\/JS /);
    expect(leftoverSidecars(w.env)).toEqual([]);
  });
});

describe('exec --mode federation with a `command` source', () => {
  const probe = `import { lstatSync } from 'node:fs';
console.log(JSON.stringify({ fifo: lstatSync(process.env.ANTHROPIC_IDENTITY_TOKEN_FILE).isFIFO() }))`;

  it('a command that prints a new JWT per run is served as a pipe (a fresh JWT per read), with no warning; the SDK child exchanges', async () => {
    world = await startWorld();
    const w = world;
    const mintScript = join(w.home.home, 'mint.mjs');
    writeFileSync(mintScript, `const r = await fetch(${JSON.stringify(`${w.sandbox.url}/_sandbox/mint`)}, { method: 'POST', body: '{}' });\nprocess.stdout.write((await r.json()).token + '\\n');\n`);
    writeFileSync(join(w.home.configDir, 'configs', 'cmd.json'), JSON.stringify({ ...w.sandbox.profile(), claude_wif: { identity: { source: 'command', command: [process.execPath, mintScript] } } }));
    const env = { ...w.env, ANTHROPIC_PROFILE: 'cmd' };
    const r = await runToEnd(['exec', '--mode', 'federation', '--', ...nodeChild(probe)], env);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson<{ fifo: boolean }>(r.stdout)).toEqual({ fifo: true });
    expect(r.stderr).not.toMatch(/cannot mint/);
    const sdk = await runToEnd(['exec', '--mode', 'federation', '--', process.execPath, join(FIXTURES, 'sdk-child.mjs')], { ...env, RUN_FOR_MS: '0' });
    expect(sdk.code, sdk.stderr + sdk.stdout).toBe(0);
    expect(w.sandbox.exchanges.map((e) => e.status)).toEqual([200]);
    expect(w.sandbox.exchanges[0]!.headers['user-agent']).toMatch(/^Anthropic\/JS /);
    expect(leftoverSidecars(w.env)).toEqual([]);
  });

  it('a command that prints the same JWT each run is said to be unable to mint (a copied file, not a pipe)', async () => {
    world = await startWorld();
    const w = world;
    const jwtFile = join(w.home.home, 'fixed.jwt');
    writeFileSync(jwtFile, `${await w.sandbox.mint()}\n`);
    writeFileSync(join(w.home.configDir, 'configs', 'cat.json'), JSON.stringify({ ...w.sandbox.profile(), claude_wif: { identity: { source: 'command', command: ['cat', jwtFile] } } }));
    const r = await runToEnd(['exec', '--mode', 'federation', '--', ...nodeChild(probe)], { ...w.env, ANTHROPIC_PROFILE: 'cat' });
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson<{ fifo: boolean }>(r.stdout)).toEqual({ fifo: false });
    expect(r.stderr).toMatch(/the identity source "command" printed the same JWT on two runs, so it cannot mint a JWT on demand/);
    expect(w.sandbox.exchanges).toHaveLength(0);
  });
});
