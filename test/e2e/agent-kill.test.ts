import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { assertNoSecrets } from '../helpers/cli.js';
import { cleanEnv } from '../helpers/env.js';
import { FIXTURES, PROFILE, spawnBin, startWorld, type Spawned, type WifWorld } from './exec-helpers.js';

// Issue 7 item 3, last sentence: the agent killed (SIGKILL) while writing. The built binary runs
// `agent` with time K times faster (timewarp.mjs) and the service's minimum token lifetime, so it
// rewrites its credentials file about every 15/K real seconds; it is killed -9 at random moments
// (KILLS times, restarted each time). After every kill, every file in its directory is whole:
// credentials and configs parse as JSON, every file is 0600 (no partial or temp file readable by
// others), directories are 0700; and after the restart a consumer authenticates with the file's
// token against the sandbox API. At the end an @anthropic-ai/sdk child that only sets
// ANTHROPIC_CONFIG_DIR authenticates too.
const K = 20;
const LIFETIME = 60;
const KILLS = 20;

let world: WifWorld | undefined;
let agent: Spawned | undefined;
afterEach(async () => {
  if (agent && agent.child.exitCode === null && agent.child.signalCode === null) {
    agent.child.kill('SIGKILL');
    await agent.exited;
  }
  agent = undefined;
  await world?.stop();
  world = undefined;
});

// A seeded generator: the kill moments are random but reproducible (the seed is printed).
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Entry {
  rel: string;
  mode: number;
  dir: boolean;
}
function walk(root: string): Entry[] {
  const out: Entry[] = [];
  const go = (d: string, rel: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue; // removed meanwhile
      }
      out.push({ rel: `${rel}${name}`, mode: st.mode & 0o777, dir: st.isDirectory() });
      if (st.isDirectory()) go(p, `${rel}${name}/`);
    }
  };
  if (existsSync(root)) go(root, '');
  return out;
}

const sleepReal = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('agent killed while writing', () => {
  it(
    `${KILLS} random kill -9: files stay whole and private, consumers authenticate after every restart`,
    async () => {
      const seed = Number(process.env['AGENT_KILL_SEED'] ?? Date.now() % 1_000_000);
      const rand = rng(seed);
      const t0 = Date.now();
      const warp = {
        NODE_OPTIONS: `--import=${pathToFileURL(join(FIXTURES, 'timewarp.mjs')).href}`,
        WIF_TIMEWARP_FACTOR: String(K),
        WIF_TIMEWARP_T0: String(t0),
      };
      world = await startWorld({ now: () => Math.floor(t0 + (Date.now() - t0) * K), tokenLifetime: LIFETIME, extraEnv: warp });
      const w = world;
      // Timers run K times faster: give network deadlines back their real length.
      const env = { ...w.env, CLAUDE_WIF_HTTP_TIMEOUT_MS: String(10_000 * K), CLAUDE_WIF_TIMEOUT_MS: String(30_000 * K) };
      const dir = join(w.home.home, 'shared');
      const cred = join(dir, 'credentials', `${PROFILE}.json`);

      const figures = { kills: 0, refreshesBeforeKill: 0, killsWithinWrite: 0, leftoverTemp: 0, maxLeftoverTemp: 0, consumerOk: 0, consumerFail: 0, credAbsent: 0, credValid: 0 };
      const problems: string[] = [];
      const stderrs: string[] = [];

      const authenticate = async (): Promise<boolean> => {
        const doc = JSON.parse(readFileSync(cred, 'utf8')) as { access_token?: string };
        const r = await fetch(`${w.sandbox.url}/v1/models`, {
          headers: { authorization: `Bearer ${doc.access_token}`, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'oauth-2025-04-20' },
        });
        await r.arrayBuffer();
        return r.status === 200;
      };

      for (let i = 0; i < KILLS; i++) {
        const a = spawnBin(['agent', '--dir', dir], env);
        agent = a;
        const refreshes = () => a.stderr().split('\n').filter((l) => l.includes(`agent: "${PROFILE}" refreshed`)).length;
        // The restarted agent must serve a consumer: wait for its first refresh (or a valid file), then authenticate.
        await a.waitFor(() => refreshes() > 0 || a.child.exitCode !== null, `agent #${i} to write its first token`, 20_000);
        expect(a.child.exitCode, a.stderr()).toBeNull();
        if (await authenticate()) figures.consumerOk++;
        else {
          figures.consumerFail++;
          problems.push(`restart ${i}: the file's token was refused`);
        }
        // Kill at a random moment over about two refresh periods (15 s / K each), so some kills land mid-write.
        const before = refreshes();
        const wait = Math.floor(rand() * ((2 * 15_000) / K));
        await sleepReal(wait);
        const mtimeBefore = existsSync(cred) ? statSync(cred).mtimeMs : 0;
        a.child.kill('SIGKILL');
        await a.exited;
        figures.kills++;
        figures.refreshesBeforeKill += refreshes();
        const mtimeAfter = existsSync(cred) ? statSync(cred).mtimeMs : 0;
        if (mtimeAfter !== mtimeBefore || refreshes() !== before) figures.killsWithinWrite++;
        stderrs.push(a.stderr());

        // Every file whole and private, whatever moment the kill hit.
        const entries = walk(dir);
        let temps = 0;
        for (const e of entries) {
          if (e.dir) {
            if (e.mode & 0o077) problems.push(`kill ${i}: directory ${e.rel} is ${e.mode.toString(8)}`);
            continue;
          }
          if (e.rel.endsWith('.tmp') || e.rel.split('/').pop()!.startsWith('.')) {
            temps++;
            if (e.mode !== 0o600) problems.push(`kill ${i}: temp file ${e.rel} is ${e.mode.toString(8)}`);
            continue;
          }
          if (e.mode !== 0o600 && e.rel.startsWith('credentials/')) problems.push(`kill ${i}: ${e.rel} is ${e.mode.toString(8)}`);
          if (e.mode & 0o022) problems.push(`kill ${i}: ${e.rel} is writable by others (${e.mode.toString(8)})`);
          if (e.rel.endsWith('.json')) {
            try {
              JSON.parse(readFileSync(join(dir, e.rel), 'utf8'));
            } catch {
              problems.push(`kill ${i}: ${e.rel} is not valid JSON`);
            }
          }
        }
        figures.leftoverTemp += temps;
        figures.maxLeftoverTemp = Math.max(figures.maxLeftoverTemp, temps);
        if (!existsSync(cred)) figures.credAbsent++;
        else {
          const doc = JSON.parse(readFileSync(cred, 'utf8')) as { access_token?: unknown };
          if (typeof doc.access_token === 'string' && doc.access_token.startsWith('sk-ant-oat01-')) figures.credValid++;
          else problems.push(`kill ${i}: credentials file has no access token`);
        }
      }

      // Final restart: an SDK application that knows nothing about federation authenticates.
      const a = spawnBin(['agent', '--dir', dir], env);
      agent = a;
      await a.waitFor(() => a.stderr().includes('refreshed') || a.child.exitCode !== null, 'the final agent to refresh', 20_000);
      const sdk = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const c = spawn(process.execPath, [join(FIXTURES, 'sdk-child.mjs')], {
          env: cleanEnv(w.home.home, { ...warp, ANTHROPIC_CONFIG_DIR: dir, RUN_FOR_MS: String(2 * LIFETIME * 1000), CALL_EVERY_MS: '5000' }),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
        c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
        c.on('close', (code) => resolve({ code, out, err }));
      });
      a.child.kill('SIGTERM');
      const end = await a.exited;
      stderrs.push(a.stderr());
      const sdkReport = JSON.parse(sdk.out.trim().split('\n').pop() ?? '{}') as { ok?: number; failed?: number };
      const leftAfterTerm = walk(dir).filter((e) => !e.dir).map((e) => e.rel).sort();

      console.log(
        `agent kill -9 storm (seed ${seed}, time ×${K}, ${LIFETIME} s tokens): ${figures.kills} kills, ` +
          `${figures.killsWithinWrite} came after the file was rewritten inside the random wait, ${figures.refreshesBeforeKill} refresh log lines in total; ` +
          `credentials file valid after ${figures.credValid}, absent after ${figures.credAbsent}; ` +
          `leftover temp files ${figures.leftoverTemp} (max ${figures.maxLeftoverTemp} at once); ` +
          `consumer after restart: ${figures.consumerOk} ok, ${figures.consumerFail} refused; ` +
          `SDK child after the storm: ${sdkReport.ok ?? 0} ok, ${sdkReport.failed ?? '?'} failed; ` +
          `exchanges seen by the sandbox: ${w.sandbox.exchanges.length}; files after SIGTERM: ${leftAfterTerm.join(', ')}`,
      );
      expect(problems).toEqual([]);
      expect(figures.kills).toBe(KILLS);
      expect(figures.consumerOk).toBe(KILLS);
      expect(sdk.code, sdk.err + sdk.out).toBe(0);
      expect(sdkReport.failed).toBe(0);
      expect(end, a.stderr()).toEqual({ code: 0, signal: null });
      expect(leftAfterTerm.filter((f) => f.endsWith('.tmp'))).toEqual([]);
      for (const s of stderrs) assertNoSecrets(s, w.secrets());
    },
    60_000,
  );
});
