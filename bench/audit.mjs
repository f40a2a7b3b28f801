// Benchmark: `claude-wif audit` over a generated 50 000-file tree (target ≤ 10 s on this machine).
// The tree looks like a monorepo checkout: source files of 0.5–8 KiB in nested packages (5 % of
// them mention Anthropic, so they take the full line-by-line scan), YAML/JSON/.env configuration,
// a node_modules tree and a .git directory (skipped), images (skipped by extension) and a few
// files over 1 MiB (skipped by size). 50 keys are planted at random places; the run must report
// exactly those 50 and exit 7. Keys are made here, at run time. Wall time of the spawned binary.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'claude-wif');

/** A deterministic generator, so every run scans the same tree. */
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

const WORDS = 'const let return function import export from class extends async await if else for while switch case break new this value result data config client request response error message handler option'.split(' ');

export function generateTree(dir, { files = 50_000, keys = 50, seed = 7 } = {}) {
  const rand = rng(seed);
  const pick = (a) => a[Math.floor(rand() * a.length)];
  const text = (bytes, mention) => {
    const lines = [];
    let n = 0;
    while (n < bytes) {
      const l = `  ${pick(WORDS)} ${pick(WORDS)}_${Math.floor(rand() * 1e6)} = ${pick(WORDS)}(${pick(WORDS)}, ${Math.floor(rand() * 1e4)});`;
      lines.push(l);
      n += l.length + 1;
    }
    if (mention) lines.splice(Math.floor(lines.length / 2), 0, '  // talks to Anthropic through the SDK (ANTHROPIC_BASE_URL)');
    return `${lines.join('\n')}\n`;
  };
  const planted = [];
  let made = 0;
  const write = (rel, content) => {
    const f = join(dir, rel);
    mkdirSync(join(f, '..'), { recursive: true });
    writeFileSync(f, content);
    made++;
  };
  // Skipped wholesale: dependencies and VCS metadata (10 % of the tree).
  for (let i = 0; i < files * 0.08; i++) write(`node_modules/pkg${i % 400}/lib/f${i}.js`, text(2000, i % 50 === 0));
  for (let i = 0; i < files * 0.02; i++) write(`.git/objects/${(i % 256).toString(16).padStart(2, '0')}/${i.toString(16).padStart(38, '0')}`, randomBytes(600));
  // Skipped by extension and by size.
  for (let i = 0; i < files * 0.01; i++) write(`packages/web/public/img/i${i}.png`, randomBytes(4000));
  for (let i = 0; i < 10; i++) write(`data/dump${i}.sql`, text(1_200_000, false));
  // Configuration.
  const exts = ['ts', 'ts', 'ts', 'tsx', 'js', 'py', 'go', 'md', 'json', 'yaml'];
  let i = 0;
  while (made < files) {
    const pkgDir = `packages/p${i % 200}/src/m${Math.floor(i / 200) % 25}`;
    if (i % 500 === 0) write(`packages/p${i % 200}/.env.example`, 'PORT=8080\nANTHROPIC_BASE_URL=\n');
    else if (i % 333 === 0) write(`deploy/k8s/svc${i}.yaml`, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c${i}\ndata:\n  anthropic_base_url: https://api.anthropic.com\n`);
    else write(`${pkgDir}/f${i}.${pick(exts)}`, text(500 + Math.floor(rand() * 7500), rand() < 0.05));
    i++;
  }
  // Keys, replacing ordinary files' contents in place (the file count stays the same).
  for (let k = 0; k < keys; k++) {
    const key = `sk-ant-api03-bench${k}-${randomBytes(24).toString('base64url')}`;
    const rel = `packages/p${(k * 7) % 200}/src/m${k % 25}/planted${k}.env`;
    write(rel, `# planted\nANTHROPIC_API_KEY=${key}\n`);
    made--;
    planted.push({ rel, key });
  }
  return { files: made, planted };
}

function runAudit(dir, home) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = spawn(process.execPath, [bin, 'audit', dir, '--format', 'json'], { env: { PATH: process.env.PATH, HOME: home }, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      try {
        resolve({ ms, code, doc: JSON.parse(out) });
      } catch {
        reject(new Error(`audit exit ${code}: ${err.slice(0, 500)}`));
      }
    });
  });
}

export async function auditBench({ files = 50_000, rounds = 3 } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'claude-wif-audit-bench-'));
  try {
    const tree = join(home, 'monorepo');
    const g0 = Date.now();
    const { files: made, planted } = generateTree(tree, { files });
    const genMs = Date.now() - g0;
    const times = [];
    let last;
    for (let r = 0; r < rounds; r++) {
      last = await runAudit(tree, home);
      times.push(last.ms);
    }
    const found = last.doc.findings.filter((f) => f.status === 'static');
    const allFound = planted.every((p) => found.some((f) => f.path.endsWith(p.rel)));
    const leaked = planted.some((p) => JSON.stringify(last.doc).includes(p.key));
    const worst = Math.max(...times);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    return {
      name: 'audit 50 000 files',
      pass: worst <= 10_000 && last.code === 7 && found.length === planted.length && allFound && !leaked,
      times,
      summary: `${made} files (${last.doc.scanned.read} read, ${last.doc.scanned.skipped.directories} dependency/VCS dirs, ${last.doc.scanned.skipped.binary} binary, ${last.doc.scanned.skipped.large} large skipped): median ${(median(times) / 1000).toFixed(2)} s, worst ${(worst / 1000).toFixed(2)} s over ${rounds} runs (target ≤ 10 s); ${found.length}/${planted.length} planted keys found, exit ${last.code}; load average ${load} (tree generated in ${(genMs / 1000).toFixed(1)} s; os.loadavg ${loadavg().map((x) => x.toFixed(2)).join(' ')})`,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await auditBench({ files: Number(process.env.AUDIT_FILES ?? 50_000), rounds: Number(process.env.AUDIT_ROUNDS ?? 3) });
  console.log(`${r.pass ? 'PASS' : 'MISS'}  ${r.name}: ${r.summary}`);
  process.exitCode = r.pass ? 0 : 1;
}
