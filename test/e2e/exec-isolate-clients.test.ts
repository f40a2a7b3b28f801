import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeIsolation } from '../../src/run/isolation.js';
import { gcpPeer, githubPeer, type Peer } from '../helpers/platforms.js';
import { FIXTURES, runToEnd, startWorld, type WifWorld } from './exec-helpers.js';

// Issue 12 acceptance: under `exec --isolate` (proxy mode) the attacker child finds no token, no
// identity JWT and no means to mint one, while the real Claude Code (@anthropic-ai/claude-code,
// installed from npm into a cache outside the repository) and an SDK app (@anthropic-ai/sdk) keep
// completing calls through the proxy over three 60-second token lifetimes.

const CLAUDE_CODE_VERSION = '2.1.332';
const probe = probeIsolation(process.env);

/** Installs Claude Code once per machine into ~/.cache; the reason it cannot, otherwise. */
function installClaudeCode(): { bin: string } | { skip: string } {
  const prefix = join(homedir(), '.cache', 'claude-wif-test-clients', `claude-code-${CLAUDE_CODE_VERSION}`);
  const bin = join(prefix, 'node_modules', '.bin');
  const claude = join(bin, 'claude');
  const works = () => {
    try {
      return execFileSync(claude, ['--version'], { encoding: 'utf8', timeout: 60_000 }).includes(CLAUDE_CODE_VERSION);
    } catch {
      return false;
    }
  };
  if (existsSync(claude) && works()) return { bin };
  try {
    mkdirSync(prefix, { recursive: true });
    // The runner's own environment: npm needs its registry configuration, nothing here is tested.
    execFileSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-save', `@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}`], { stdio: 'ignore', timeout: 600_000 });
  } catch (err) {
    return { skip: `@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION} could not be installed from npm (${(err as Error).message.split('\n')[0]})` };
  }
  return works() ? { bin } : { skip: `Claude Code ${CLAUDE_CODE_VERSION} was installed but \`claude --version\` does not run here` };
}

const skip = !probe.ok ? probe.reason : undefined;

describe.skipIf(skip)(`exec --isolate with Claude Code and an SDK app over three token lifetimes${skip ? ` — skipped: ${skip}` : ''}`, () => {
  let w: WifWorld;
  let peers: Peer[] = [];
  let installed: ReturnType<typeof installClaudeCode>;
  beforeAll(async () => {
    installed = installClaudeCode();
    w = await startWorld({ tokenLifetime: 60 });
    peers = [await githubPeer((o) => w.sandbox.mint(o), 'ghs_isolatedcanary0123456789'), await gcpPeer((o) => w.sandbox.mint(o))];
  }, 660_000);
  afterAll(async () => {
    for (const p of peers) await p.close();
    await w?.stop();
  });

  it('nothing to steal, and every call completes', async (ctx) => {
    if ('skip' in installed) ctx.skip(installed.skip);
    const bin = (installed as { bin: string }).bin;
    const [gh, metadata] = peers as [Peer & { requestUrl: string }, Peer];
    mkdirSync(join(w.home.home, '.claude'), { recursive: true, mode: 0o700 });
    const know = {
      roots: [w.home.home],
      tcp: { tokenEndpoint: w.sandbox.url, github: gh.url, metadata: metadata.url },
      githubUrl: gh.requestUrl,
      metadataUrl: metadata.url,
      tokenEndpoint: `${w.sandbox.url}/v1/oauth/token`,
      apiUrl: w.sandbox.url,
      organizationId: w.sandbox.config.organization_id,
      ruleId: w.sandbox.config.rules[0]!.id,
    };
    const env = {
      ...w.env,
      PATH: `${bin}:${w.env['PATH']}`,
      GITHUB_ACTIONS: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: gh.requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'ghs_isolatedcanary0123456789',
      RUN_FOR_MS: '190000',
      CLAUDE_EVERY_MS: '60000',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    };
    const exchangesBefore = w.sandbox.exchanges.length;
    const r = await runToEnd(['exec', '--isolate', '--', process.execPath, join(FIXTURES, 'isolated-clients.mjs'), JSON.stringify(know)], env, 420_000);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      attacker: { env: { tokens: string[]; jwts: string[]; identityVars: string[] }; files: { read: number; tokens: string[]; jwts: string[] }; proc: { tokens: string[]; jwts: string[]; memTokens: string[]; requestTokens: string[] }; minted: { jwts: string[]; tokens: string[] }; tcp: Record<string, boolean>; connectableSockets: string[]; api: { proxy?: number | string } };
      sdk: { ok: number; failed: number; started: number; ended: number; errors?: unknown };
      claude: Array<{ at: number; code: number; out: string; err: string }>;
    };
    const a = out.attacker;
    // Nothing to steal.
    expect(a.files.read).toBeGreaterThan(0);
    expect([...a.env.tokens, ...a.files.tokens, ...a.proc.tokens, ...a.proc.memTokens, ...a.minted.tokens]).toEqual([]);
    expect([...a.env.jwts, ...a.files.jwts, ...a.proc.jwts, ...a.minted.jwts]).toEqual([]);
    expect(a.env.identityVars).toEqual([]);
    expect(a.proc.requestTokens).toEqual([]);
    expect(Object.values(a.tcp).some(Boolean)).toBe(false);
    expect(a.connectableSockets).toEqual([]);
    expect(a.api.proxy).toBe(200);
    // Every call through the proxy completed, across more than three token lifetimes.
    expect(out.sdk.failed, JSON.stringify(out.sdk.errors)).toBe(0);
    expect(out.sdk.ended - out.sdk.started).toBeGreaterThanOrEqual(180_000);
    expect(out.sdk.ok).toBeGreaterThanOrEqual(20);
    expect(out.claude.length).toBeGreaterThanOrEqual(4);
    for (const c of out.claude) expect(c, JSON.stringify(c)).toMatchObject({ code: 0, out: expect.stringContaining('Hello') });
    expect(out.claude[out.claude.length - 1]!.at).toBeGreaterThanOrEqual(180_000);
    // The parent refreshed the 60 s token at least three times meanwhile.
    expect(w.sandbox.exchanges.length - exchangesBefore).toBeGreaterThanOrEqual(4);
  }, 480_000);
});
