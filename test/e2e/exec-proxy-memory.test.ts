import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeChild, runToEnd, startWorld, type WifWorld } from './exec-helpers.js';

// Issue 12 item 2: a proxy session keeps its token in the parent's memory. The child (same user)
// searches every file it can read under HOME and TMPDIR while the session runs; the test checks
// the same places again after the session, for every access token the sandbox ever issued.

const SEARCH = `
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const roots = [process.env.HOME, process.env.TMPDIR].filter(Boolean);
const found = [];
let files = 0;
const walk = (d, depth) => {
  let entries;
  try { entries = readdirSync(d, { withFileTypes: true }); } catch { return; }
  for (const e of entries) {
    const p = join(d, e.name);
    if (e.isDirectory() && depth < 8) walk(p, depth + 1);
    else if (e.isFile()) {
      try { const t = readFileSync(p, 'utf8'); files++; if (/sk-ant-oat01-/.test(t)) found.push(p); } catch {}
    }
  }
};
for (const r of roots) walk(r, 0);
// The API works through the proxy meanwhile.
const res = await fetch(process.env.ANTHROPIC_BASE_URL + '/v1/messages', { method: 'POST', headers: { authorization: 'Bearer ' + process.env.ANTHROPIC_AUTH_TOKEN, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }) });
console.log(JSON.stringify({ found, files, status: res.status }));
`;

describe('exec --mode proxy: no readable copy of the token on disk', () => {
  let w: WifWorld;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(async () => {
    await w?.stop();
  });

  it('the child finds no token file while it runs, and none is left afterwards', async () => {
    const tmp = join(w.home.home, 'tmp');
    const r = await runToEnd(['exec', '--mode', 'proxy', '--', ...nodeChild(SEARCH)], { ...w.env, TMPDIR: tmp });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { found: string[]; files: number; status: number };
    expect(out.status).toBe(200);
    expect(out.files).toBeGreaterThan(0); // the walk really read files (the profile, the identity file)
    expect(out.found).toEqual([]);
    const issued = w.sandbox.exchanges.map((e) => (e.response as { access_token?: string } | undefined)?.access_token).filter((t): t is string => Boolean(t));
    expect(issued.length).toBeGreaterThan(0);
    const leftovers: string[] = [];
    const walk = (d: string): void => {
      if (!existsSync(d)) return;
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        const st = statSync(p);
        if (st.isDirectory()) walk(p);
        else if (st.isFile() && issued.some((t) => readFileSync(p, 'utf8').includes(t))) leftovers.push(p);
      }
    };
    walk(w.home.home);
    expect(leftovers).toEqual([]);
  });
});
