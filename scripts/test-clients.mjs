#!/usr/bin/env node
// `npm run test:clients`: today's real clients against the sandbox, every client × every mode.
//
// 1. Installs the newest @anthropic-ai/claude-code and @anthropic-ai/sdk from npm and the Python
//    `anthropic` package with pip (whatever index this machine's pip is configured with) into a
//    cache outside the repository (~/.cache/claude-wif/clients/<client>-<version>, or
//    $CLAUDE_WIF_CLIENTS_CACHE), reusing what is already there for that version. A client that
//    cannot be installed is reported as skipped with the reason, never as passed.
// 2. Runs test/clients/*.test.ts (vitest.clients.config.ts) with the manifest of what was installed.
// 3. Prints the matrix (client × mode) from the cells the tests recorded, and the closing line
//    "N passed, N failed". `--write-readme` rewrites the README's "Tested with" section from it.
//
// Options: --write-readme; --quick (no long runs); --only <claude-code|ts-sdk|python-sdk>.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const writeReadme = args.includes('--write-readme');
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const cacheRoot = process.env.CLAUDE_WIF_CLIENTS_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'claude-wif', 'clients');
if (cacheRoot.startsWith(ROOT + '/')) {
  console.error(`test:clients: the client cache ${cacheRoot} is inside the repository; point CLAUDE_WIF_CLIENTS_CACHE elsewhere`);
  process.exit(2);
}
mkdirSync(cacheRoot, { recursive: true });

const say = (m) => process.stderr.write(`test:clients: ${m}\n`);
const firstLine = (s) => String(s ?? '').trim().split('\n').filter(Boolean).slice(-3).join(' | ').slice(0, 300);

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: opts.timeout ?? 600_000, env: opts.env ?? process.env, cwd: opts.cwd });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.slice(0, 3).join(' ')} exited ${r.status}: ${firstLine(r.stderr || r.stdout)}`);
  return r.stdout;
}

/** An npm package at its newest version, installed once per version into <cache>/<name>-<version>. */
function npmClient(pkg, key, bin) {
  const version = run('npm', ['view', pkg, 'version'], { timeout: 120_000 }).trim();
  const dir = join(cacheRoot, `${key}-${version}`);
  const resolved = () => (bin ? join(dir, 'node_modules', '.bin', bin) : join(dir, 'node_modules', pkg));
  if (!existsSync(join(dir, '.complete'))) {
    say(`installing ${pkg}@${version} into ${dir}`);
    const tmp = mkdtempSync(join(cacheRoot, `.${key}-`));
    try {
      writeFileSync(join(tmp, 'package.json'), '{"private":true}\n');
      run('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', tmp, `${pkg}@${version}`], { timeout: 900_000 });
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
      writeFileSync(join(dir, '.complete'), `${new Date().toISOString()}\n`);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }
  return { version, dir, path: resolved() };
}

/** The Python SDK: the newest version the configured pip index offers, in its own venv. */
function pythonClient() {
  const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version'], { encoding: 'utf8' }).status === 0);
  if (!python) throw new Error('no python3 on PATH');
  let version;
  try {
    const out = run(python, ['-m', 'pip', 'index', 'versions', 'anthropic'], { timeout: 300_000 });
    version = /anthropic \(([^)]+)\)/.exec(out)?.[1];
  } catch {
    /* older pip: install into a scratch venv and ask it */
  }
  const install = (dir, spec) => {
    run(python, ['-m', 'venv', dir], { timeout: 300_000 });
    run(join(dir, 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', spec], { timeout: 900_000 });
    return run(join(dir, 'bin', 'python'), ['-c', 'import anthropic; print(anthropic.__version__)']).trim();
  };
  if (version) {
    const dir = join(cacheRoot, `python-anthropic-${version}`);
    if (!existsSync(join(dir, '.complete'))) {
      say(`installing anthropic==${version} (pip) into ${dir}`);
      rmSync(dir, { recursive: true, force: true });
      try {
        install(dir, `anthropic==${version}`);
      } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      writeFileSync(join(dir, '.complete'), `${new Date().toISOString()}\n`);
    }
    return { version, dir, path: join(dir, 'bin', 'python') };
  }
  const tmp = mkdtempSync(join(cacheRoot, '.python-anthropic-'));
  try {
    say(`installing the newest anthropic (pip) into a venv under ${cacheRoot}`);
    const got = install(tmp, 'anthropic');
    const dir = join(cacheRoot, `python-anthropic-${got}`);
    if (existsSync(join(dir, '.complete'))) {
      rmSync(tmp, { recursive: true, force: true });
    } else {
      // A venv's scripts name their own directory: rebuild it in place under its final name.
      rmSync(dir, { recursive: true, force: true });
      rmSync(tmp, { recursive: true, force: true });
      install(dir, `anthropic==${got}`);
      writeFileSync(join(dir, '.complete'), `${new Date().toISOString()}\n`);
    }
    return { version: got, dir, path: join(dir, 'bin', 'python') };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

const CLIENTS = [
  { id: 'claude-code', label: 'Claude Code', pkg: '@anthropic-ai/claude-code', get: () => npmClient('@anthropic-ai/claude-code', 'claude-code', 'claude') },
  { id: 'ts-sdk', label: 'TypeScript SDK', pkg: '@anthropic-ai/sdk', get: () => npmClient('@anthropic-ai/sdk', 'anthropic-sdk') },
  { id: 'python-sdk', label: 'Python SDK', pkg: 'anthropic (pip)', get: pythonClient },
];

const manifest = { cacheRoot, quick, clients: {} };
for (const c of CLIENTS) {
  if (only && c.id !== only) {
    manifest.clients[c.id] = { label: c.label, package: c.pkg, skipped: `not selected (--only ${only})` };
    continue;
  }
  try {
    const got = c.get();
    manifest.clients[c.id] = { label: c.label, package: c.pkg, version: got.version, dir: got.dir, path: got.path };
    say(`${c.label}: ${c.pkg} ${got.version}`);
  } catch (err) {
    manifest.clients[c.id] = { label: c.label, package: c.pkg, skipped: `could not be installed: ${firstLine(err.message)}` };
    say(`${c.label}: skipped (${manifest.clients[c.id].skipped})`);
  }
}

const work = mkdtempSync(join(tmpdir(), 'claude-wif-clients-'));
const manifestPath = join(work, 'manifest.json');
const cellsPath = join(work, 'cells.jsonl');
const reportPath = join(work, 'vitest.json');
writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
writeFileSync(cellsPath, '');

run('node', [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT });
const vitest = spawnSync(
  process.execPath,
  [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', join(ROOT, 'vitest.clients.config.ts'), '--reporter=default', '--reporter=json', `--outputFile.json=${reportPath}`],
  { cwd: ROOT, stdio: 'inherit', env: { ...process.env, WIF_CLIENTS_MANIFEST: manifestPath, WIF_CLIENTS_CELLS: cellsPath } },
);

const cells = readFileSync(cellsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
let report;
try {
  report = JSON.parse(readFileSync(reportPath, 'utf8'));
} catch {
  report = undefined;
}
rmSync(work, { recursive: true, force: true });

// The matrix: one row per mode, one column per client; a cell is pass, FAIL, skipped or — (not
// applicable to that client).
const ORDER = ['env', 'exec token', 'exec sidecar', 'exec proxy', 'exec federation', 'agent', 'sidecar long run', 'proxy long run', 'federation long run', 'agent long run', 'no bubblewrap', 'bubblewrap', 'killed child cleanup', 'apiKeyHelper (refusal expected)'];
const seenModes = [...new Set(cells.map((c) => c.mode))];
const MODES = [...ORDER.filter((x) => seenModes.includes(x)), ...seenModes.filter((x) => !ORDER.includes(x))];
const mark = (list) => {
  if (list.length === 0) return '—';
  if (list.some((c) => c.result === 'fail')) return 'FAIL';
  if (list.every((c) => c.result === 'skip')) return 'skipped';
  return list.some((c) => c.result === 'skip') ? 'pass (partly skipped)' : 'pass';
};
const head = ['mode', ...CLIENTS.map((c) => `${c.label} ${manifest.clients[c.id].version ?? '(not installed)'}`)];
const rows = MODES.map((mode) => [mode, ...CLIENTS.map((c) => mark(cells.filter((x) => x.client === c.id && x.mode === mode)))]);
const notes = CLIENTS.filter((c) => manifest.clients[c.id].skipped).map((c) => `${c.label} skipped: ${manifest.clients[c.id].skipped}`);
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => `| ${r.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
console.log('');
console.log(line(head));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
for (const n of notes) console.log(`  ${n}`);
for (const c of cells.filter((x) => x.result === 'fail')) console.log(`  FAIL: ${c.client} × ${c.mode}: ${c.detail}`);
for (const c of cells.filter((x) => x.long && x.result === 'pass')) console.log(`  long run: ${c.client} × ${c.mode}: ${c.detail}`);

if (writeReadme) {
  const readme = join(ROOT, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- tested-with:start -->';
  const end = '<!-- tested-with:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) {
    console.error('test:clients: README.md has no tested-with markers; not written');
  } else {
    const md = [
      `Generated by \`npm run test:clients -- --write-readme\` on ${new Date().toISOString().slice(0, 10)} (node ${process.version}, ${process.platform}-${process.arch}${quick ? ', --quick: no long runs' : ''}). — means the mode does not apply to that client.`,
      '',
      `| ${head.join(' | ')} |`,
      `|${head.map(() => '---').join('|')}|`,
      ...rows.map((r) => `| ${r.join(' | ')} |`),
      ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
      '',
    ].join('\n');
    writeFileSync(readme, `${text.slice(0, a + start.length)}\n${md}${text.slice(b)}`);
    console.log('test:clients: README.md "Tested with" section rewritten');
  }
}

const passed = report?.numPassedTests ?? 0;
const failed = report ? report.numFailedTests : 1;
const skipped = report ? (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0) : 0;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (process.env.WIF_CLIENTS_SUMMARY) writeFileSync(process.env.WIF_CLIENTS_SUMMARY, JSON.stringify({ passed, failed, skipped, cells }));
process.exit(vitest.status === 0 && report ? 0 : vitest.status || 1);
