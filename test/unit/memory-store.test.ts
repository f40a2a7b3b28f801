import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/cache/memory-store.js';
import { readCredentials } from '../../src/cache/file-store.js';
import { getAccessToken, type CoreDeps } from '../../src/core/credentials.js';
import { resolvePlan } from '../../src/core/resolve.js';
import { createLogger } from '../../src/util/log.js';
import { fakeClock } from '../helpers/cli.js';
import { tempHome, type TempHome } from '../helpers/env.js';
import { sandboxWithProfile, type SandboxSetup } from '../helpers/sandbox.js';

// Issue 12 item 2: a proxy session's token lives in the parent's memory; nothing it does leaves a
// readable copy on disk.

let h: TempHome;
let s: SandboxSetup;
const clock = fakeClock(Date.now());
const deps = (): CoreDeps => ({ env: { HOME: h.home }, clock, log: createLogger({ write: () => {} }, 'debug'), userAgent: 'claude-wif-test' });

beforeAll(async () => {
  h = tempHome();
  s = await sandboxWithProfile(h.configDir, { now: () => clock.now() });
  s.writeProfile('default');
});
afterAll(async () => {
  await s.sandbox.close();
  h.cleanup();
});

/** Every file under a directory, with its content. */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const path = join(e.parentPath, e.name);
      return { path, text: readFileSync(path, 'utf8') };
    });
}

describe('memory store', () => {
  it('exchanges, keeps the token in memory only, and serves it from memory afterwards', async () => {
    const plan = resolvePlan({ env: { HOME: h.home } });
    const store = memoryStore(() => readCredentials(plan.cache.path));
    const before = s.sandbox.exchanges.length;
    const first = await getAccessToken(plan, { store }, deps());
    expect(first.fromCache).toBe(false);
    expect(first.cachePath).toMatch(/^memory/);
    expect(existsSync(plan.cache.path)).toBe(false);
    // Nowhere under HOME (config dir, cache dir, ledger, locks) is there a copy of the token.
    const leaks = filesUnder(h.home).filter((f) => f.text.includes(first.token));
    expect(leaks.map((f) => f.path)).toEqual([]);
    const second = await getAccessToken(plan, { store }, deps());
    expect(second).toMatchObject({ fromCache: true, token: first.token });
    expect(s.sandbox.exchanges.length - before).toBe(1);

    // A forced refresh (a 401 upstream) replaces it, in memory again.
    await s.rotate();
    const third = await getAccessToken(plan, { store, forceRefresh: true }, deps());
    expect(third.token).not.toBe(first.token);
    expect(store.read()?.accessToken).toBe(third.token);
    expect(filesUnder(h.home).filter((f) => f.text.includes(third.token))).toEqual([]);
    store.clear();
    expect(store.read()).toBeUndefined();
  });

  it('uses a token already cached on disk (read only) rather than exchanging again', async () => {
    const plan = resolvePlan({ env: { HOME: h.home } });
    await s.rotate();
    const onDisk = await getAccessToken(plan, {}, deps()); // an earlier `claude-wif token`
    const mtime = readFileSync(plan.cache.path, 'utf8');
    const store = memoryStore(() => readCredentials(plan.cache.path));
    const before = s.sandbox.exchanges.length;
    const t = await getAccessToken(plan, { store }, deps());
    expect(t.token).toBe(onDisk.token);
    expect(s.sandbox.exchanges.length).toBe(before);
    expect(readFileSync(plan.cache.path, 'utf8')).toBe(mtime);
  });
});
