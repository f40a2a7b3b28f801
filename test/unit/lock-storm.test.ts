// The cross-process lock under kill -9, with real processes: workers take the lock in turns and
// check, inside the critical section, that no other live worker is inside; meanwhile the lock
// holder is killed with SIGKILL again and again. Every waiter sees each dead holder at about the
// same moment, which is exactly when breaking the lock must not let two of them in (found by the
// crash storm, bench/crash-storm.mjs: two holders at once meant two exchanges).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempHome, type TempHome } from '../helpers/env.js';

const WORKER = fileURLToPath(new URL('./fixtures/lock-worker.mjs', import.meta.url));
const LOCK_TS = fileURLToPath(new URL('../../src/cache/lock.ts', import.meta.url));
const WORKERS = Number(process.env['LOCK_STORM_WORKERS'] ?? 20);
const ROUNDS = Number(process.env['LOCK_STORM_ROUNDS'] ?? 5);
const KILLS = Number(process.env['LOCK_STORM_KILLS'] ?? 8);

let h: TempHome;
let lockModule: string;
beforeAll(async () => {
  h = tempHome();
  lockModule = join(h.home, 'lock.mjs');
  await build({ entryPoints: [LOCK_TS], outfile: lockModule, bundle: true, platform: 'node', format: 'esm', logLevel: 'warning' });
});
afterAll(() => h.cleanup());

function owner(path: string): { pid: number; at: number } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { pid: number; at: number };
  } catch {
    return undefined;
  }
}

describe('cross-process lock under kill -9', () => {
  it(`${WORKERS} workers × ${ROUNDS} rounds, ${KILLS} holders killed: never two live holders at once`, async () => {
    const lockPath = join(h.cacheDir, 'locks', 'storm.lock');
    const markers = join(h.home, 'markers');
    mkdirSync(markers, { recursive: true });
    const workers = new Map<number, { exited: boolean; killed: boolean }>();
    const exits: Array<Promise<void>> = [];
    for (let i = 0; i < WORKERS; i++) {
      const c = spawn(process.execPath, [WORKER, lockModule, lockPath, markers, String(ROUNDS)], { stdio: ['ignore', 'ignore', 'inherit'] });
      const w = { exited: false, killed: false };
      workers.set(c.pid!, w);
      exits.push(new Promise((resolve) => c.on('exit', () => ((w.exited = true), resolve()))));
    }
    let kills = 0;
    const stopAt = Date.now() + 25_000;
    while ([...workers.values()].some((w) => !w.exited)) {
      if (Date.now() > stopAt) {
        for (const pid of workers.keys()) process.kill(pid, 'SIGKILL');
        throw new Error('the workers did not finish within 25 s');
      }
      const o = owner(lockPath);
      const w = o && workers.get(o.pid);
      // Kill a holder a few milliseconds into its turn, inside its critical section.
      if (kills < KILLS && w && !w.exited && !w.killed && Date.now() - o.at > 5) {
        w.killed = true;
        kills++;
        process.kill(o.pid, 'SIGKILL');
      }
      await new Promise((r) => setTimeout(r, 3));
    }
    await Promise.all(exits);
    const violations = existsSync(join(markers, 'violations')) ? readFileSync(join(markers, 'violations'), 'utf8') : '';
    console.log(`lock storm: ${WORKERS} workers × ${ROUNDS} rounds, ${kills} holders killed with SIGKILL, ${violations.split('\n').filter(Boolean).length} exclusivity violation(s)`);
    expect(kills).toBeGreaterThanOrEqual(KILLS / 2);
    expect(violations).toBe('');
  });
});
