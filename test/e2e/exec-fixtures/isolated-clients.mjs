// Runs inside `claude-wif exec --isolate` (issue 12 acceptance): first the attacker child, then an
// SDK app calling Messages every few seconds while Claude Code (`claude -p`) is started again
// and again, both through the session's proxy, for RUN_FOR_MS (three 60 s token lifetimes and
// more). Prints one JSON line: the attacker's report, the SDK app's summary, each Claude run.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const runFor = Number(process.env.RUN_FOR_MS ?? 190000);
const claudeEvery = Number(process.env.CLAUDE_EVERY_MS ?? 60000);
const run = (file, args, env = {}) =>
  new Promise((resolve) => {
    const c = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('error', (e) => resolve({ code: -1, out, err: String(e) }));
    c.on('close', (code) => resolve({ code, out, err }));
  });

const attacker = await run(process.execPath, [join(here, 'attacker.mjs'), process.argv[2] ?? '{}']);
const started = Date.now();
const sdk = run(process.execPath, [join(here, 'sdk-child.mjs')], { RUN_FOR_MS: String(runFor), CALL_EVERY_MS: '4000' });
const claude = [];
while (true) {
  const at = Date.now() - started;
  const r = await run('claude', ['-p', 'say hi'], { CI: '1' });
  claude.push({ at, code: r.code, out: r.out.trim().slice(0, 200), err: r.code === 0 ? '' : r.err.slice(0, 400) });
  if (Date.now() - started + claudeEvery > runFor) break;
  await new Promise((r2) => setTimeout(r2, Math.max(0, claudeEvery - (Date.now() - started - at))));
}
const sdkResult = await sdk;
let sdkSummary;
try { sdkSummary = JSON.parse(sdkResult.out.trim().split('\n').pop()); } catch { sdkSummary = { error: sdkResult.err.slice(0, 400) }; }
process.stdout.write(`${JSON.stringify({ attacker: JSON.parse(attacker.out.trim().split('\n').pop() || '{}'), sdk: sdkSummary, claude })}\n`);
