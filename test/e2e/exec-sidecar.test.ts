import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { assertNoSecrets } from '../helpers/cli.js';
import { FIXTURES, spawnBin, startWorld, type WifWorld } from './exec-helpers.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';

// The acceptance test of sidecar mode: a long-running @anthropic-ai/sdk application keeps making
// successful calls across more than 3 token lifetimes while only the claude-wif parent exchanges.
//
// Why time is dilated instead of tokens shortened: the SDK refuses a credentials-file token with
// ≤ 30 s left (its mandatory threshold), so a sub-30 s token can never work, and 3 lifetimes of
// a token the SDK can use take minutes. Instead the parent, the child (both via a NODE_OPTIONS
// preload) and the sandbox (via its `now` option) share a clock that runs K times faster, and the
// rule mints the production minimum of 60 s: every component runs its real logic — SDK thresholds,
// rotator schedule, sandbox expiry checks — on a 60 s token, K times faster.
const K = 4;
const LIFETIME = 60;

let world: WifWorld | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

describe('exec --mode sidecar with an SDK child', () => {
  it(
    'keeps the child authenticated across more than 3 token lifetimes, with only the parent exchanging',
    async () => {
      const t0 = Date.now();
      const warp = () => Math.floor(t0 + (Date.now() - t0) * K);
      world = await startWorld({
        now: warp,
        tokenLifetime: LIFETIME,
        extraEnv: {
          NODE_OPTIONS: `--import=${pathToFileURL(join(FIXTURES, 'timewarp.mjs')).href}`,
          WIF_TIMEWARP_FACTOR: String(K),
          WIF_TIMEWARP_T0: String(t0),
          // The precedence traps: both outrank profiles in the SDK; exec must remove them.
          ANTHROPIC_API_KEY: fakeAnthropicToken('api03', 'parent-key-that-must-not-be-used'),
          ANTHROPIC_AUTH_TOKEN: fakeAnthropicToken('oat01', 'parent-bearer-that-must-not-be-used'),
          RUN_FOR_MS: String(Math.round(3.05 * LIFETIME * 1000)),
          CALL_EVERY_MS: '2000',
        },
      });
      const w = world;
      const run = spawnBin(['exec', '--', process.execPath, join(FIXTURES, 'sdk-child.mjs')], w.env);
      const timer = setTimeout(() => run.child.kill('SIGKILL'), 80_000);
      const { code, signal } = await run.exited;
      clearTimeout(timer);
      const stderr = run.stderr();
      expect({ code, signal }, `stdout: ${run.stdout()}\nstderr: ${stderr}`).toEqual({ code: 0, signal: null });

      const report = JSON.parse(run.stdout().trim().split('\n').pop()!) as { started: number; ended: number; ok: number; failed: number };
      expect(report.failed).toBe(0);
      expect(report.ended - report.started).toBeGreaterThanOrEqual(3 * LIFETIME * 1000);

      const calls = w.sandbox.apiCalls.filter((c) => c.path.startsWith('/v1/messages'));
      expect(calls.length).toBe(report.ok);
      expect(calls.every((c) => c.status === 200)).toBe(true);
      // The federated token, Bearer with the oauth beta; never the parent's API key or bearer.
      for (const c of calls) {
        expect(c.headers['x-api-key']).toBeUndefined();
        expect(c.headers['authorization']).toMatch(/^Bearer sk-ant-oat01-/);
        expect(c.headers['anthropic-beta']).toContain('oauth-2025-04-20');
      }

      const exchanges = w.sandbox.exchanges;
      expect(exchanges.every((e) => e.status === 200)).toBe(true);
      // Only the parent exchanged: every request carries claude-wif's User-Agent, none the SDK's.
      expect(exchanges.every((e) => /^claude-wif\//.test(e.headers['user-agent'] ?? ''))).toBe(true);
      // The schedule: a 60 s token is replaced at age ~15 s, so about 4 exchanges per lifetime,
      // never bunched together (no refresh loop) and never more than a few extra.
      const span = (calls[calls.length - 1]!.at - exchanges[0]!.at) / 1000;
      expect(exchanges.length).toBeGreaterThanOrEqual(Math.floor(span / 15) - 1);
      expect(exchanges.length).toBeLessThanOrEqual(Math.ceil(span / 15) + 2);
      for (let i = 1; i < exchanges.length; i++) expect(exchanges[i]!.at - exchanges[i - 1]!.at).toBeGreaterThanOrEqual(10_000);
      // The child really outlived its first token (and the one after it) by a wide margin.
      const firstExpiry = exchanges[0]!.at + LIFETIME * 1000;
      expect(calls[calls.length - 1]!.at).toBeGreaterThan(firstExpiry + 2 * LIFETIME * 1000);
      expect(new Set(calls.map((c) => c.token_prefix)).size).toBeGreaterThanOrEqual(4);

      assertNoSecrets(stderr, w.secrets());
    },
    90_000,
  );
});

describe('exec --mode token', () => {
  it('warns on stderr when the child outlives its static token', async () => {
    const K20 = 20;
    const t0 = Date.now();
    world = await startWorld({
      now: () => Math.floor(t0 + (Date.now() - t0) * K20),
      tokenLifetime: LIFETIME,
      extraEnv: {
        NODE_OPTIONS: `--import=${pathToFileURL(join(FIXTURES, 'timewarp.mjs')).href}`,
        WIF_TIMEWARP_FACTOR: String(K20),
        WIF_TIMEWARP_T0: String(t0),
      },
    });
    const w = world;
    // The child outlives the 60 s token (70 s of dilated time, 3.5 s of real time).
    const child = [process.execPath, '-e', 'setTimeout(() => {}, 70_000)'];
    const run = spawnBin(['exec', '--mode', 'token', '--', ...child], w.env);
    const { code } = await run.exited;
    expect(code).toBe(0);
    expect(run.stderr()).toMatch(/warning: the token given to the child expired at .* and --mode token does not renew it; use the default --mode sidecar/);
    expect(run.stderr().match(/warning: the token given to the child expired/g)).toHaveLength(1);
    assertNoSecrets(run.stderr(), w.secrets());
  }, 30_000);
});
