import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeIsolation } from '../../src/run/isolation.js';
import { ROOT } from '../helpers/cli.js';
import { gcpPeer, githubPeer, type Peer } from '../helpers/platforms.js';
import { FIXTURES, runToEnd, startWorld, type WifWorld } from './exec-helpers.js';

// Issue 12 items 4 and 5: an attacker child in every exec mode, compared cell by cell with the
// README's table "What a child can reach". The parent's environment is a GitHub Actions runner's
// (a request token that mints identity JWTs) and a metadata server is reachable, as on a cloud VM.

const probe = probeIsolation(process.env);
const ATTACKER = join(FIXTURES, 'attacker.mjs');
const COLUMNS = ['envToken', 'fileToken', 'fileJwt', 'envIdentity', 'procEnviron', 'network', 'api'] as const;
type Column = (typeof COLUMNS)[number];

/** The README's table: mode → the exec arguments and the ✓/— of each column. */
function readmeTable(): Array<{ mode: string; args: string[]; cells: Record<Column, boolean> }> {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = text.indexOf('### What a child can reach');
  expect(at).toBeGreaterThan(0);
  const rows = text.slice(at).split('\n').filter((l) => l.startsWith('| `'));
  return rows.map((l) => {
    const cells = l.split('|').slice(1, -1).map((c) => c.trim());
    const mode = cells[0]!;
    const args = mode === '`proxy` + `--isolate`' ? ['--isolate'] : ['--mode', mode.replace(/`/g, '')];
    expect(cells.length, l).toBe(COLUMNS.length + 1);
    return { mode, args, cells: Object.fromEntries(COLUMNS.map((c, i) => [c, cells[i + 1]!.startsWith('✓')])) as Record<Column, boolean> };
  });
}

interface Report {
  env: { tokens: string[]; jwts: string[]; identityVars: string[] };
  files: { read: number; tokens: string[]; jwts: string[] };
  proc: { pids: number[]; environ: number[]; tokens: string[]; jwts: string[]; requestTokens: string[]; memTokens: string[] };
  connectableSockets: string[];
  tcp: Record<string, boolean>;
  minted: { jwts: string[]; tokens: string[] };
  api: { proxy?: number | string; direct?: number | string };
}

const REQUEST_TOKEN = 'ghs_attackercanary0123456789abcdef';

async function attack(args: string[]): Promise<{ report: Report; world: WifWorld; stderr: string; code: number | null }> {
  const world = await startWorld();
  const peers: Peer[] = [];
  try {
    const gh = await githubPeer((o) => world.sandbox.mint(o), REQUEST_TOKEN);
    const metadata = await gcpPeer((o) => world.sandbox.mint(o));
    peers.push(gh, metadata);
    const tmp = join(world.home.home, 'tmp');
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    // A positive control: an ordinary file every mode's child can read.
    writeFileSync(join(world.home.home, 'notes.txt'), 'nothing secret here\n');
    const know = {
      roots: [world.home.home],
      tcp: { tokenEndpoint: world.sandbox.url, github: gh.url, metadata: metadata.url },
      githubUrl: gh.requestUrl,
      metadataUrl: metadata.url,
      tokenEndpoint: `${world.sandbox.url}/v1/oauth/token`,
      apiUrl: world.sandbox.url,
      organizationId: world.sandbox.config.organization_id,
      ruleId: world.sandbox.config.rules[0]!.id,
    };
    const env = { ...world.env, TMPDIR: tmp, GITHUB_ACTIONS: 'true', ACTIONS_ID_TOKEN_REQUEST_URL: gh.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN };
    const r = await runToEnd(['exec', ...args, '--', process.execPath, ATTACKER, JSON.stringify(know)], env, 90_000);
    const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Report;
    if (process.env.ATTACK_DEBUG) console.error(r.stderr, JSON.stringify({ ...report, files: { ...report.files, jwts: report.files.jwts.length } }).slice(0, 3000));
    return { report, world, stderr: r.stderr, code: r.code };
  } finally {
    for (const p of peers) await p.close();
  }
}

/** What the attacker reached, in the table's columns. */
function reached(report: Report, world: WifWorld): Record<Column, boolean> {
  const issued = new Set(world.sandbox.exchanges.map((e) => (e.response as { access_token?: string } | undefined)?.access_token).filter(Boolean) as string[]);
  const mine = (list: string[]) => list.some((t) => issued.has(t));
  return {
    envToken: mine(report.env.tokens),
    fileToken: mine(report.files.tokens),
    fileJwt: report.files.jwts.length > 0,
    envIdentity: report.env.identityVars.length > 0,
    procEnviron: report.proc.requestTokens.includes(REQUEST_TOKEN),
    network: Object.values(report.tcp).some(Boolean),
    api: report.api.proxy === 200 || report.api.direct === 200,
  };
}

describe('the attacker child, mode by mode, against the README table', () => {
  const table = readmeTable();
  it('the table has a row for every mode and for isolation', () => {
    expect(table.map((r) => r.mode)).toEqual(['`token`', '`sidecar`', '`federation`', '`proxy`', '`proxy` + `--isolate`']);
  });

  for (const row of table) {
    const isolated = row.args.includes('--isolate');
    const skip = isolated && !probe.ok ? probe.reason : undefined;
    it.skipIf(skip)(`${row.mode}: the child reaches exactly what the table says${skip ? ` — skipped: ${skip}` : ''}`, async () => {
      const { report, world, stderr, code } = await attack(row.args);
      try {
        expect(code, stderr).toBe(0);
        expect(report.files.read, 'the attacker really read files').toBeGreaterThan(0);
        expect(reached(report, world)).toEqual(row.cells);
        if (isolated) {
          // Item 4's acceptance: no Anthropic token, no identity JWT, no means to mint one.
          const tokens = [...report.env.tokens, ...report.files.tokens, ...report.proc.tokens, ...report.proc.memTokens, ...report.minted.tokens];
          expect(tokens).toEqual([]);
          expect([...report.env.jwts, ...report.files.jwts, ...report.proc.jwts, ...report.minted.jwts]).toEqual([]);
          expect(report.proc.requestTokens).toEqual([]);
          expect(report.connectableSockets).toEqual([]);
          expect(report.proc.pids.length).toBeLessThanOrEqual(4);
          expect(report.api.proxy).toBe(200);
        }
      } finally {
        await world.stop();
      }
    }, 120_000);
  }

  it('without isolation the routes the README names are real: the attacker mints through the parent’s environment and the metadata server', async () => {
    const { report, world, code, stderr } = await attack(['--mode', 'proxy']);
    try {
      expect(code, stderr).toBe(0);
      expect(report.minted.jwts.length).toBeGreaterThan(0);
      expect(report.minted.tokens.length).toBeGreaterThan(0); // exchanged for itself at the token endpoint
      if (process.getuid?.() === 0) expect(report.proc.memTokens.length, 'root reads the parent’s memory').toBeGreaterThan(0);
    } finally {
      await world.stop();
    }
  }, 120_000);
});
