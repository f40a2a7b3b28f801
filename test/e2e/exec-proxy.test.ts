import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertNoSecrets } from '../helpers/cli.js';
import { FIXTURES, leftoverSidecars, nodeChild, runToEnd, spawnBin, startWorld, type WifWorld } from './exec-helpers.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';

// `exec --mode proxy` end to end: the built binary, its child, and the sandbox on loopback.

const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').pop()!) as T;

const NOISY_PARENT = {
  ANTHROPIC_API_KEY: fakeAnthropicToken('api03', 'parent-api-key'),
  ANTHROPIC_AUTH_TOKEN: fakeAnthropicToken('oat01', 'parent-bearer'),
  CLAUDE_CODE_OAUTH_TOKEN: fakeAnthropicToken('oat01', 'parent-claude'),
  ANTHROPIC_FEDERATION_RULE_ID: 'fdrl_someotherrule',
  ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
};

// Every variable of the child, values included (the test process is the only reader).
const ENV_DUMP = `console.log(JSON.stringify(process.env))`;

describe('exec --mode proxy: what the child holds', () => {
  let w: WifWorld;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(async () => {
    await w?.stop();
  });

  it('only a loopback URL and a session secret: no sk-ant- value anywhere in its environment', async () => {
    const r = await runToEnd(['exec', '--mode', 'proxy', '--', ...nodeChild(ENV_DUMP)], { ...w.env, ...NOISY_PARENT });
    expect(r.code, r.stderr).toBe(0);
    const env = lastJson<Record<string, string>>(r.stdout);
    expect(Object.entries(env).filter(([, v]) => v.includes('sk-ant-'))).toEqual([]);
    expect(env['ANTHROPIC_AUTH_TOKEN']).toMatch(/^cwp_[A-Za-z0-9_-]{43}$/);
    expect(env['ANTHROPIC_BASE_URL']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env['ANTHROPIC_BASE_URL']).not.toBe(w.sandbox.url);
    for (const gone of ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_FEDERATION_RULE_ID', 'ANTHROPIC_PROFILE', 'ANTHROPIC_CONFIG_DIR', 'CLAUDE_WIF_TOKEN_EXPIRES_AT']) {
      expect(env[gone], gone).toBeUndefined();
    }
    // The secret never reaches stderr (nothing was logged about it) and the proxy is gone afterwards.
    expect(r.stderr).toBe('');
    await expect(fetch(`${env['ANTHROPIC_BASE_URL']}/v1/models`)).rejects.toThrow();
  });

  it('Claude Code (`claude` as the command) also gets the secret as CLAUDE_CODE_OAUTH_TOKEN; --proxy-socket adds a unix socket curl can use', async () => {
    const bin = join(w.home.home, 'fakebin');
    mkdirSync(bin, { recursive: true });
    const claude = join(bin, 'claude');
    writeFileSync(claude, `#!${process.execPath}\n${ENV_DUMP}`, { mode: 0o755 });
    // A proxy session keeps its token in memory only, so each session exchanges a JWT of its own.
    await w.rotate();
    const a = await runToEnd(['exec', '--mode', 'proxy', '--', claude], w.env);
    const env = lastJson<Record<string, string>>(a.stdout);
    expect(env['CLAUDE_CODE_OAUTH_TOKEN']).toBe(env['ANTHROPIC_AUTH_TOKEN']);
    expect(env['CLAUDE_CODE_OAUTH_TOKEN']).toMatch(/^cwp_/);

    const sock = join(w.home.home, 'proxy.sock');
    const curl = `curl -s -o /dev/null -w '%{http_code}' --unix-socket "$CLAUDE_WIF_PROXY_SOCKET" -H "Authorization: Bearer $ANTHROPIC_AUTH_TOKEN" -H 'anthropic-version: 2023-06-01' http://localhost/v1/models; echo " $CLAUDE_WIF_PROXY_SOCKET"`;
    const before = w.sandbox.apiCalls.length;
    await w.rotate();
    const b = await runToEnd(['exec', '--mode', 'proxy', '--proxy-socket', sock, '--', 'sh', '-c', curl], w.env);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout.trim()).toBe(`200 ${sock}`);
    expect(w.sandbox.apiCalls.slice(before).map((c) => c.status)).toEqual([200]);
  });
});

// The acceptance test: an @anthropic-ai/sdk child and a curl child, through one proxy, across more
// than 3 token lifetimes. Time runs K times faster for the parent (its token refresh), the SDK
// child and the sandbox (timewarp.mjs, as in the sidecar test); curl and the shell run in real
// time, which is fine: they only need the proxy to hold a valid token whenever they call.
const K = 8;
const LIFETIME = 60;

describe('exec --mode proxy: an SDK child and a curl child across more than 3 token lifetimes', () => {
  let world: WifWorld | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it(
    'every call succeeds, each with a fresh federated token the children never see',
    async () => {
      const t0 = Date.now();
      const runForMs = Math.round(3.1 * LIFETIME * 1000);
      world = await startWorld({
        now: () => Math.floor(t0 + (Date.now() - t0) * K),
        tokenLifetime: LIFETIME,
        extraEnv: {
          NODE_OPTIONS: `--import=${pathToFileURL(join(FIXTURES, 'timewarp.mjs')).href}`,
          WIF_TIMEWARP_FACTOR: String(K),
          WIF_TIMEWARP_T0: String(t0),
          ...NOISY_PARENT,
          RUN_FOR_MS: String(runForMs),
          CALL_EVERY_MS: '2000',
        },
      });
      const w = world;
      const realSeconds = Math.ceil(runForMs / K / 1000);
      const script = join(w.home.home, 'children.sh');
      writeFileSync(
        script,
        `"${process.execPath}" "${join(FIXTURES, 'sdk-child.mjs')}" > "$HOME/sdk.out" &
sdk=$!
ok=0; fail=0; end=$(( $(date +%s) + ${realSeconds} ))
while [ "$(date +%s)" -lt "$end" ]; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ANTHROPIC_AUTH_TOKEN" -H 'anthropic-version: 2023-06-01' -H 'anthropic-beta: tools-2024-05-16' -H 'content-type: application/json' \\
    -d '{"model":"claude-sonnet-4-6","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}' "$ANTHROPIC_BASE_URL/v1/messages")
  if [ "$code" = 200 ]; then ok=$((ok+1)); else fail=$((fail+1)); fi
  sleep 0.4
done
wait $sdk; status=$?
echo "{\\"curl_ok\\":$ok,\\"curl_failed\\":$fail}"
cat "$HOME/sdk.out"
exit $status
`,
      );
      const run = spawnBin(['exec', '--mode', 'proxy', '--', 'sh', script], w.env);
      const timer = setTimeout(() => run.child.kill('SIGKILL'), 70_000);
      const { code, signal } = await run.exited;
      clearTimeout(timer);
      const out = run.stdout().trim().split('\n');
      expect({ code, signal }, `stdout: ${run.stdout()}\nstderr: ${run.stderr()}`).toEqual({ code: 0, signal: null });
      const curl = JSON.parse(out[out.length - 2]!) as { curl_ok: number; curl_failed: number };
      const sdk = JSON.parse(out[out.length - 1]!) as { started: number; ended: number; ok: number; failed: number };
      expect(curl.curl_failed).toBe(0);
      expect(curl.curl_ok).toBeGreaterThanOrEqual(20);
      expect(sdk.failed).toBe(0);
      expect(sdk.ended - sdk.started).toBeGreaterThanOrEqual(3 * LIFETIME * 1000);

      const calls = w.sandbox.apiCalls.filter((c) => c.path.startsWith('/v1/messages'));
      expect(calls.length).toBe(curl.curl_ok + sdk.ok);
      for (const c of calls) {
        expect(c.status).toBe(200);
        expect(c.headers['authorization']).toMatch(/^Bearer sk-ant-oat01-/);
        expect(c.headers['x-api-key']).toBeUndefined();
        expect(c.headers['anthropic-beta']).toContain('oauth-2025-04-20');
      }
      // curl's own beta survived the merge; the SDK child (ANTHROPIC_AUTH_TOKEN, no custom headers) got the oauth beta from the proxy.
      expect(calls.filter((c) => /^curl\//.test(c.headers['user-agent'] ?? '')).every((c) => c.headers['anthropic-beta'] === 'tools-2024-05-16,oauth-2025-04-20')).toBe(true);
      expect(calls.some((c) => !/^curl\//.test(c.headers['user-agent'] ?? ''))).toBe(true);

      // Only the parent exchanged, on the rotator's schedule (a 60 s token is replaced at age ~15 s).
      const exchanges = w.sandbox.exchanges;
      expect(exchanges.every((e) => e.status === 200 && /^claude-wif\//.test(e.headers['user-agent'] ?? ''))).toBe(true);
      const span = (calls[calls.length - 1]!.at - exchanges[0]!.at) / 1000;
      expect(span).toBeGreaterThan(3 * LIFETIME);
      expect(exchanges.length).toBeGreaterThanOrEqual(Math.floor(span / 15) - 1);
      expect(exchanges.length).toBeLessThanOrEqual(Math.ceil(span / 15) + 2);
      expect(new Set(calls.map((c) => c.token_prefix)).size).toBeGreaterThanOrEqual(4);

      assertNoSecrets(run.stderr(), w.secrets());
      expect(leftoverSidecars(w.env)).toEqual([]);
    },
    90_000,
  );
});
