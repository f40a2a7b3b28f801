import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cell, manifest, record, runClaudeCode, runSdkClient, startAgent, startClientWorld, stopAgent, TOKEN_LIFETIME, type ClientId, type Launch } from './harness.js';

// Long runs past three token lifetimes (60 s tokens) for every mode that promises to keep a
// child authenticated: sidecar, proxy, federation and the agent directory. One call (or Claude
// Code turn) every 20 s, the pace at which the issue's clients refreshed. The TypeScript SDK
// runs 4× faster (timewarp.mjs: its Date and timers, claude-wif's and the sandbox's clock);
// Claude Code (a native binary) and Python run in real time, all at once, so the whole suite
// fits its budget. Zero refused calls, zero refused or repeated exchanges, nothing left behind.

const m = manifest();
const MODES = ['sidecar', 'proxy', 'federation', 'agent'] as const;
const LIFETIMES = 3;
const EVERY_MS = 20_000;
// Just past three lifetimes: the first call at 0, the last after 3 × 60 s + one more interval.
const RUN_FOR_MS = LIFETIMES * TOKEN_LIFETIME * 1000 + EVERY_MS;
const WARP = 4;

describe.skipIf(m.quick).concurrent('long runs', () => {
  for (const client of ['claude-code', 'ts-sdk', 'python-sdk'] as ClientId[]) {
    const c = m.clients[client];
    for (const mode of MODES) {
      const label = `${mode} long run`;
      if (c.skipped) {
        it.skip(`${c.label} × ${label}: ${c.skipped}`, () => {});
        record({ client, mode: label, result: 'skip', detail: c.skipped, long: true });
        continue;
      }
      it(`${c.label} × ${mode}: past ${LIFETIMES} token lifetimes`, () =>
        cell(
          client,
          label,
          async () => {
            const warp = client === 'ts-sdk' ? WARP : 1;
            const w = await startClientWorld({ warp });
            let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
            try {
              let launch: Launch = { kind: 'exec', mode };
              let env = w.env;
              if (mode === 'agent') {
                const dir = join(w.home.home, 'agent');
                agent = await startAgent(w, dir);
                launch = { kind: 'direct' };
                env = { ...w.consumerEnv, ANTHROPIC_CONFIG_DIR: dir };
              }
              const started = Date.now();
              let calls: number;
              if (client === 'claude-code') {
                const turns = Math.floor(RUN_FOR_MS / EVERY_MS) + 1;
                const r = await runClaudeCode(m, launch, env, { turns, everyMs: EVERY_MS, timeoutMs: RUN_FOR_MS + 240_000 });
                expect(r.code, r.stderr).toBe(0);
                calls = r.ok;
              } else {
                const r = await runSdkClient(client, m, launch, env, { runForMs: RUN_FOR_MS, everyMs: EVERY_MS, timeoutMs: RUN_FOR_MS / warp + 240_000 });
                calls = r.ok;
              }
              const realS = Math.round((Date.now() - started) / 1000);
              const problems = w.problems();
              expect(problems).toEqual([]);
              expect(calls).toBeGreaterThanOrEqual(Math.floor(RUN_FOR_MS / EVERY_MS));
              // More than three lifetimes of (client) time passed between the first and last exchange.
              const ex = w.sandbox.exchanges;
              const span = (ex[ex.length - 1]!.at - ex[0]!.at) / 1000;
              expect(span).toBeGreaterThan((LIFETIMES - 1) * TOKEN_LIFETIME);
              expect(ex.length).toBeGreaterThanOrEqual(LIFETIMES + 1);
              if (agent) await stopAgent(agent);
              agent = undefined;
              expect(w.leftovers()).toEqual([]);
              return `${calls} calls over ${Math.round((RUN_FOR_MS / 1000) * 10) / 10} s${warp > 1 ? ` (${warp}× time, ${realS} s real)` : ''}, ${ex.length} exchanges, 0 refused`;
            } finally {
              if (agent) await stopAgent(agent);
              await w.stop();
            }
          },
          true,
        ));
    }
  }
});
