// Issue 15 items 11 and 12, through the built binary: an assertion reaches the token endpoint at
// most once, ever; one that never left the machine is not counted as spent; what happened to an
// assertion is told as it happened; a denial can be re-sent after the configuration changed or on
// request (`cache forget`), without touching valid tokens. The sandbox counts arrivals (every
// request whose body it read, answered or not), not only answers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runBin } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { closedPort } from '../helpers/platforms.js';
import { sandboxWithProfile, type SandboxSetup } from '../helpers/sandbox.js';

let h: TempHome;
let s: SandboxSetup;
let env: Record<string, string>;
let n = 0;
let jwt: string;

beforeAll(async () => {
  h = tempHome();
  s = await sandboxWithProfile(h.configDir);
  env = cleanEnv(h.home, { ANTHROPIC_CONFIG_DIR: h.configDir, NO_COLOR: '1' });
});
afterAll(async () => {
  await s.sandbox.close();
  h.cleanup();
});
beforeEach(async () => {
  s.sandbox.answerDelayMs = 0;
  s.sandbox.clearFaults();
  jwt = await s.rotate();
});

/** How many times this JWT reached the token endpoint, answered or not. */
const arrivalsOf = (assertion: string) => s.sandbox.arrivals.filter((a) => a.assertion === assertion).length;
const profile = (extra: Record<string, unknown> = {}, authExtra: Record<string, unknown> = {}): string => {
  const name = `su-${++n}`;
  const base = s.sandbox.profile({ identityTokenPath: s.identityFile });
  s.writeProfile(name, { ...extra, authentication: { ...(base['authentication'] as object), ...authExtra } });
  return name;
};
const token = (name: string, extraEnv: Record<string, string> = {}) => runBin(['--profile', name, 'token'], { ...env, ...extraEnv }, { timeoutMs: 60_000 });

describe('an assertion that never left the machine is not spent (item 11)', () => {
  it('refused locally (http to a non-loopback host, exit 6), then sent to a reachable endpoint: exchanged', async () => {
    const p = profile({ base_url: 'http://api.example.com' });
    const refused = await token(p);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('insecure_endpoint');
    s.writeProfile(p, { authentication: s.sandbox.profile({ identityTokenPath: s.identityFile })['authentication'] });
    const ok = await token(p);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(arrivalsOf(jwt)).toBe(1);
  });

  it('connection refused (exit 5, endpoint_unreachable), then a reachable endpoint: exchanged', async () => {
    const p = profile({ base_url: `http://127.0.0.1:${await closedPort()}` });
    const refused = await token(p);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('endpoint_unreachable');
    s.writeProfile(p, { authentication: s.sandbox.profile({ identityTokenPath: s.identityFile })['authentication'] });
    const ok = await token(p);
    expect(ok.code).toBe(0);
    expect(arrivalsOf(jwt)).toBe(1);
  });
});

describe('a denial is told as it happened and can be re-sent (item 11)', () => {
  it('401, then the same configuration: "sent N s ago and refused with 401", not sent again; a fixed rule id sends it again and succeeds', async () => {
    const p = profile({}, { federation_rule_id: 'fdrl_wrongrule' });
    const denied = await token(p);
    expect(denied.code).toBe(4);
    expect(denied.stderr).toContain('exchange_denied');
    const again = await token(p);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/was sent \d+s ago and refused with 401 \(exchange_denied\)/);
    expect(again.stderr).not.toMatch(/already exchanged/);
    expect(again.stderr).toContain('cache forget');
    expect(arrivalsOf(jwt)).toBe(1);
    s.writeProfile(p); // the right rule id
    const fixed = await token(p);
    expect(fixed.stderr).toBe('');
    expect(fixed.code).toBe(0);
    expect(arrivalsOf(jwt)).toBe(2);
  });

  it('cache forget re-sends a denied JWT under the same configuration and leaves valid tokens alone', async () => {
    const good = profile();
    expect((await token(good)).code).toBe(0);
    const goodFile = join(h.configDir, 'credentials', `${good}.json`);
    const before = readFileSync(goodFile, 'utf8');
    jwt = await s.rotate();
    const p = profile({}, { federation_rule_id: 'fdrl_wrongrule' });
    expect((await token(p)).code).toBe(4);
    expect((await token(p)).code).toBe(3);
    const forgot = await runBin(['--profile', p, 'cache', 'forget'], env);
    expect(forgot.code).toBe(0);
    expect(forgot.stdout).toMatch(/forgot the current identity JWT .*refused with 401/);
    expect((await token(p)).code).toBe(4); // sent once more (still the wrong rule): a second arrival
    expect(arrivalsOf(jwt)).toBe(2);
    expect(readFileSync(goodFile, 'utf8')).toBe(before);
    const cached = await token(good);
    expect(cached.code).toBe(0);
    expect(cached.stdout).toBe(`${JSON.parse(before).access_token}\n`);
  });
});

describe('a slow token endpoint never gets the same assertion twice (item 12)', () => {
  // Scaled from the 10 s per request / 30 s overall / 12 s late: the answer comes after
  // the per-request timeout and well inside the overall deadline.
  const slow = { CLAUDE_WIF_HTTP_TIMEOUT_MS: '1500', CLAUDE_WIF_TIMEOUT_MS: '15000' };

  it('5 concurrent cold token calls, the answer 4 s late (past the 1.5 s per-request timeout): all 5 get the one token, 1 arrival', async () => {
    const p = profile();
    s.sandbox.answerDelayMs = 4000;
    const runs = await Promise.all(Array.from({ length: 5 }, () => token(p, slow)));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(new Set(runs.map((r) => r.stdout)).size).toBe(1);
    expect(runs[0]!.stdout).toMatch(/^sk-ant-oat01-\S+\n$/);
    expect(arrivalsOf(jwt)).toBe(1);
  });

  it('no answer within the overall deadline: endpoint_timeout, then "sent N s ago and no answer came", never a second arrival', async () => {
    const p = profile();
    s.sandbox.answerDelayMs = 6000;
    const late = await token(p, { CLAUDE_WIF_HTTP_TIMEOUT_MS: '1000', CLAUDE_WIF_TIMEOUT_MS: '3000' });
    expect(late.code).toBe(5);
    expect(late.stderr).toContain('endpoint_timeout');
    s.sandbox.answerDelayMs = 0;
    const again = await token(p);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/was sent \d+s ago and no answer came \(endpoint_timeout\); the token endpoint may have consumed it/);
    expect(arrivalsOf(jwt)).toBe(1);
  });

  it('a 503 answer: the single-use assertion is not retried (1 arrival), and the replay message says the endpoint failed with 503', async () => {
    const p = profile();
    s.sandbox.injectFault({ status: 503, count: 3 });
    const failed = await token(p);
    expect(failed.code).toBe(5);
    expect(failed.stderr).toContain('endpoint_failed');
    s.sandbox.clearFaults();
    expect(arrivalsOf(jwt)).toBe(1);
    const again = await token(p);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/failed with 503 \(endpoint_failed\); it may have consumed it/);
    expect(arrivalsOf(jwt)).toBe(1);
  });

  it('check_jti off: the same assertion may be retried after a 503 (the endpoint does not count uses)', async () => {
    const p = profile({ claude_wif: { check_jti: false } });
    s.sandbox.injectFault({ status: 503, count: 1 });
    const r = await token(p);
    expect(r.code, r.stderr).toBe(0);
    expect(arrivalsOf(jwt)).toBe(2);
  });
});
