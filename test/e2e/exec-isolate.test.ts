import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeIsolation } from '../../src/run/isolation.js';
import { nodeChild, runToEnd, spawnBin, startWorld, type WifWorld } from './exec-helpers.js';
import { ROOT } from '../helpers/cli.js';

// `exec --isolate` end to end (issue 12 item 3): the built binary runs the child under bubblewrap.
// Skipped, with the reason, where this machine cannot isolate (no bwrap, no user namespaces).

const probe = probeIsolation(process.env);
const skip = probe.ok ? undefined : probe.reason;

const LOOK = `
import fs from 'node:fs';
const pids = fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).map(Number);
let configDir = null;
try { configDir = fs.readdirSync(process.env.HOME + '/.config/anthropic'); } catch (e) { configDir = e.code; }
let tokenEndpoint = 'unreachable';
try { await fetch(process.argv[1] + '/v1/oauth/token', { method: 'POST' }); tokenEndpoint = 'reachable'; } catch {}
const res = await fetch(process.env.ANTHROPIC_BASE_URL + '/v1/messages', { method: 'POST', headers: { authorization: 'Bearer ' + process.env.ANTHROPIC_AUTH_TOKEN, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }) });
let homeWrite = 'ok';
try { fs.writeFileSync(process.env.HOME + '/planted', 'x'); } catch (e) { homeWrite = e.code; }
console.log(JSON.stringify({ pids, configDir, tokenEndpoint, api: res.status, homeWrite, tmp: fs.readdirSync('/tmp'), uidFiles: fs.existsSync('/proc/1/environ') }));
process.exitCode = Number(process.argv[2] ?? 0);
`;

describe.skipIf(skip)(`exec --isolate${skip ? ` — skipped: ${skip}` : ''}`, () => {
  let w: WifWorld;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(async () => {
    await w?.stop();
  });

  it('the child calls the API through the proxy and sees no profile, no token endpoint, no other process, no writable HOME', async () => {
    const r = await runToEnd(['exec', '--isolate', '--', ...nodeChild(LOOK), w.sandbox.url, '7'], w.env);
    expect(r.code, r.stderr).toBe(7); // the child's own exit status
    const seen = JSON.parse(r.stdout.trim().split('\n').pop()!) as { pids: number[]; configDir: unknown; tokenEndpoint: string; api: number; homeWrite: string; tmp: string[] };
    expect(seen.api).toBe(200);
    expect(seen.tokenEndpoint).toBe('unreachable');
    expect(seen.configDir).toEqual([]); // the directory is there, empty
    expect(seen.homeWrite).toBe('EROFS');
    expect(existsSync(join(w.home.home, 'planted'))).toBe(false);
    // its own PID namespace: bubblewrap's init, the relay and the child, nothing else
    expect(seen.pids.length).toBeLessThanOrEqual(4);
    expect(Math.max(...seen.pids)).toBeLessThan(100);
    // a private /tmp: the proxy socket's directory, and the test's HOME (which lives under /tmp) bound back
    // (and, when they too live under /tmp, the checkout — the child's working directory — and
    // the PATH directories npm puts in front of PATH, which are bound back read-only)
    const boundBack = [ROOT, ...(w.env['PATH'] ?? '').split(':')].filter((d) => d.startsWith('/tmp/')).map((d) => d.split('/')[2]!);
    expect(seen.tmp.sort()).toEqual([...new Set(['.claude-wif', w.home.home.split('/')[2]!, ...boundBack])].sort());
  });

  it('a signal sent to the parent reaches the isolated child, and the parent ends the way the child did', async () => {
    const s = spawnBin(['exec', '--isolate', '--', ...nodeChild(`console.log('ready'); setInterval(() => {}, 1000);`)], w.env);
    await s.waitFor(() => s.stdout().includes('ready'), 'the isolated child to start');
    process.kill(s.pid, 'SIGTERM');
    const r = await s.exited;
    expect(r.signal ?? r.code).toBe(r.signal ? 'SIGTERM' : 143);
  });

  it('a command that does not exist inside exits 127', async () => {
    const r = await runToEnd(['exec', '--isolate', '--', '/nonexistent/tool'], w.env);
    expect(r.code, r.stderr).toBe(127);
  });

  it('refuses (exit 6, the child never runs) when isolation was asked for and is unavailable', async () => {
    const marker = join(w.home.home, 'ran');
    const r = await runToEnd(['exec', '--isolate', '--', ...nodeChild(`require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x')`)], { ...w.env, CLAUDE_WIF_BWRAP: '/nonexistent/bwrap' });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/isolation_unavailable/);
    expect(r.stderr).toMatch(/CLAUDE_WIF_BWRAP/);
    expect(existsSync(marker)).toBe(false);
  });

  it('--isolate works only with the proxy mode', async () => {
    const r = await runToEnd(['exec', '--isolate', '--mode', 'sidecar', '--', 'true'], w.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--mode proxy/);
  });
});

it('isolation availability is reported with a reason', () => {
  if (!probe.ok) expect(probe.reason.length).toBeGreaterThan(10);
  else expect(probe.bwrap).toMatch(/bwrap$/);
});
