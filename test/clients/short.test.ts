import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../helpers/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cell,
  childPids,
  environOf,
  hostHasBwrap,
  manifest,
  PROFILE,
  record,
  runClaudeCode,
  runSdkClient,
  startAgent,
  start,
  startClientWorld,
  stopAgent,
  type ClientId,
  type Launch,
  type World,
} from './harness.js';

// Every client × every mode, one call (or turn) each, on a host without bubblewrap (a PATH with
// every program but bwrap), with a stale ANTHROPIC_API_KEY in the parent's environment. Claude
// Code also: with bubblewrap (scrubbing on), and each exec mode's cleanup when Claude Code is
// killed by a signal.

const m = manifest();
const EXEC_MODES = ['token', 'sidecar', 'proxy', 'federation'] as const;

function clientSuite(client: ClientId): void {
  const c = m.clients[client];
  if (c.skipped) {
    describe(`${c.label} (skipped: ${c.skipped})`, () => {
      it.skip(`${c.label}: ${c.skipped}`, () => {});
    });
    for (const mode of ['env', ...EXEC_MODES.map((x) => `exec ${x}`), 'agent']) record({ client, mode, result: 'skip', detail: c.skipped });
    return;
  }
  describe(`${c.label} ${c.version}`, () => {
    let w: World;
    beforeAll(async () => {
      w = await startClientWorld();
    });
    afterAll(async () => {
      await w?.stop();
    });

    const once = async (launch: Launch, env: Record<string, string>): Promise<string> => {
      const before = w.stats();
      if (client === 'claude-code') {
        const r = await runClaudeCode(m, launch, env, { turns: 1, everyMs: 0, timeoutMs: 120_000 });
        expect(r.code, r.stderr).toBe(0);
      } else {
        await runSdkClient(client, m, launch, env, { runForMs: 0, everyMs: 0, timeoutMs: 120_000 });
      }
      const after = w.stats();
      expect(w.problems()).toEqual([]);
      expect(w.leftovers()).toEqual([]);
      expect(after.apiCalls).toBeGreaterThan(before.apiCalls);
      return `${after.apiCalls - before.apiCalls} API call(s), ${after.exchanges - before.exchanges} exchange(s)`;
    };

    const target = client === 'claude-code' ? 'claude-code' : 'sdk';
    it(`env --target ${target}: eval "$(claude-wif env)" then the client`, () => cell(client, 'env', () => once({ kind: 'env', target }, w.env)));

    for (const mode of EXEC_MODES) {
      it(`exec --mode ${mode}`, () => cell(client, `exec ${mode}`, () => once({ kind: 'exec', mode }, w.env)));
    }

    it('agent directory (consumers set only ANTHROPIC_CONFIG_DIR)', () =>
      cell(client, 'agent', async () => {
        const dir = join(w.home.home, 'agent');
        const a = await startAgent(w, dir);
        try {
          expect(a.stderr()).not.toMatch(/ANTHROPIC_API_KEY is set/);
          return await once({ kind: 'direct' }, { ...w.consumerEnv, ANTHROPIC_CONFIG_DIR: dir });
        } finally {
          await stopAgent(a);
        }
      }));

    if (client === 'claude-code') {
      it('exec without bubblewrap: one stderr notice, Claude Code starts with CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=0', () =>
        cell(client, 'no bubblewrap', async () => {
          const r = await runClaudeCode(m, { kind: 'exec', mode: 'sidecar' }, w.env, {
            turns: 1,
            everyMs: 0,
            timeoutMs: 120_000,
            onFirstResult: (run) => {
              const pid = childPids(run.child.pid!)[0]!;
              expect(environOf(pid)['CLAUDE_CODE_SUBPROCESS_ENV_SCRUB']).toBe('0');
            },
          });
          expect(r.stderr.split('\n').filter((l) => /bubblewrap was not found/.test(l))).toHaveLength(1);
          return 'scrubbing off, said once';
        }));

      it.skipIf(!hostHasBwrap())(`exec with bubblewrap: Claude Code runs with scrubbing on${hostHasBwrap() ? '' : ' (skipped: bubblewrap is not installed)'}`, () =>
        cell(client, 'bubblewrap', async () => {
          const wb = await startClientWorld({ bwrap: true });
          try {
            const r = await runClaudeCode(m, { kind: 'exec', mode: 'sidecar' }, wb.env, {
              turns: 1,
              everyMs: 0,
              timeoutMs: 120_000,
              onFirstResult: (run) => {
                const pid = childPids(run.child.pid!)[0]!;
                expect(environOf(pid)['CLAUDE_CODE_SUBPROCESS_ENV_SCRUB']).toBe('1');
              },
            });
            expect(r.code, r.stderr).toBe(0);
            expect(r.stderr).not.toMatch(/bubblewrap/);
            expect(wb.problems()).toEqual([]);
            return 'CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=1 and Claude Code answered';
          } finally {
            await wb.stop();
          }
        }));
      if (!hostHasBwrap()) record({ client, mode: 'bubblewrap', result: 'skip', detail: 'bubblewrap is not installed on this host' });

      it('apiKeyHelper running `claude-wif token` is refused by the API, and doctor fails it (what README says)', () =>
        cell(client, 'apiKeyHelper (refusal expected)', async () => {
          const home = join(w.home.home, 'helper-home');
          mkdirSync(join(home, '.claude'), { recursive: true });
          const config = join(w.home.configDir);
          writeFileSync(join(home, '.claude', 'settings.json'), JSON.stringify({ apiKeyHelper: `ANTHROPIC_CONFIG_DIR=${config} ANTHROPIC_PROFILE=${PROFILE} ${process.execPath} ${BIN} token` }));
          const env = { ...w.consumerEnv, HOME: home, ANTHROPIC_BASE_URL: w.sandbox.url };
          const before = w.sandbox.apiCalls.length;
          const r = await runClaudeCode(m, { kind: 'direct' }, env, { turns: 1, everyMs: 0, timeoutMs: 120_000 }).then(
            () => undefined,
            (err: Error) => err,
          );
          expect(r?.message ?? 'it answered', 'Claude Code with an apiKeyHelper token must be refused').toMatch(/turn 1 failed|exited/);
          const calls = w.sandbox.apiCalls.slice(before).filter((c) => c.path.startsWith('/v1/messages'));
          expect(calls.length).toBeGreaterThan(0);
          expect(calls.every((c) => c.status === 400 || c.status === 401)).toBe(true);
          const doctor = start([process.execPath, BIN, 'doctor', '--offline', '--json'], { ...env, ANTHROPIC_CONFIG_DIR: config, ANTHROPIC_PROFILE: PROFILE });
          await doctor.exited;
          const check = (JSON.parse(doctor.stdout()) as { checks: Array<{ id: string; status: string }> }).checks.find((x) => x.id === 'claude_code_settings');
          expect(check?.status).toBe('fail');
          return `refused (${[...new Set(calls.map((c) => `${c.status} ${c.error ?? ''}`.trim()))].join(', ')}); doctor fails it`;
        }));

      for (const mode of EXEC_MODES) {
        it(`exec --mode ${mode}: Claude Code killed by SIGKILL leaves no private directory or secret file`, () =>
          cell(client, 'killed child cleanup', async () => {
            let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
            await runClaudeCode(m, { kind: 'exec', mode }, w.env, {
              turns: 2,
              everyMs: 0,
              timeoutMs: 120_000,
              onFirstResult: async (run) => {
                const pid = childPids(run.child.pid!)[0]!;
                process.kill(pid, 'SIGKILL');
                status = await run.exited;
                throw new Error('stop');
              },
            }).catch((err: Error) => {
              if (err.message !== 'stop') throw err;
            });
            // 128+9, or the parent re-raising SIGKILL on itself after cleaning up.
            expect(status!.code === 137 || status!.signal === 'SIGKILL', JSON.stringify(status)).toBe(true);
            expect(w.leftovers()).toEqual([]);
            return `${mode}: ${status!.code ?? status!.signal}, nothing left`;
          }));
      }
    }
  });
}

for (const client of ['claude-code', 'ts-sdk', 'python-sdk'] as const) clientSuite(client);
