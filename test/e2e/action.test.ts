import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { ROOT } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';

// The GitHub Action run the way the runner runs a `node20` action: `node action/main.cjs`, then
// `node action/post.cjs`, with inputs as INPUT_* variables, the file commands in the files named
// by GITHUB_ENV / GITHUB_OUTPUT / GITHUB_STATE / GITHUB_PATH, saved state handed back as STATE_*,
// and the job's OIDC request endpoint played by the sandbox.

const ACTION = join(ROOT, 'action');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Async on purpose: the sandbox answering these programs lives in this process's event loop. */
function exec(file: string, args: string[], env: Record<string, string>, cwd: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const node = (file: string, env: Record<string, string>, cwd: string): Promise<Ran> => exec(process.execPath, [file], env, cwd);

/** The runner's reader for GITHUB_ENV / GITHUB_OUTPUT / GITHUB_STATE: NAME=value lines and NAME<<DELIM blocks. */
function readFileCommands(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(path)) return out;
  const lines = readFileSync(path, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i]!);
      if (i >= lines.length) throw new Error(`unterminated ${name}<<${delim}`);
      out[name!] = value.join('\n');
    } else {
      const at = line.indexOf('=');
      if (at < 1) throw new Error(`not a file command: ${line}`);
      out[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return out;
}

/** Every regular file under a directory whose text contains the needle. */
function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && readFileSync(p, 'latin1').includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
});
afterAll(async () => sandbox.close());

interface Job {
  h: TempHome;
  env: Record<string, string>;
  files: { env: string; output: string; state: string; path: string };
  temp: string;
}

function job(inputs: Record<string, string>, opts: { oidc?: boolean } = {}): Job {
  const h = tempHome();
  const runnerDir = join(h.home, '_runner');
  const temp = join(h.home, '_temp');
  mkdirSync(runnerDir);
  mkdirSync(temp);
  const files = { env: join(runnerDir, 'env'), output: join(runnerDir, 'output'), state: join(runnerDir, 'state'), path: join(runnerDir, 'path') };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const env = cleanEnv(h.home, {
    GITHUB_ACTIONS: 'true',
    RUNNER_TEMP: temp,
    GITHUB_ENV: files.env,
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_PATH: files.path,
    ...(opts.oidc === false ? {} : { ACTIONS_ID_TOKEN_REQUEST_URL: sandbox.github.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: sandbox.github.requestToken }),
  });
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  return { h, env, files, temp };
}

const baseInputs = () => ({
  'organization-id': sandbox.config.organization_id,
  'federation-rule-id': 'fdrl_sandbox',
  'service-account-id': 'svac_sandbox',
  'base-url': sandbox.url,
  audience: 'https://api.anthropic.com',
});

/** The environment of a later step: the job's, plus what the action exported and put on PATH. */
function laterStep(j: Job): Record<string, string> {
  const exported = readFileCommands(j.files.env);
  const paths = readFileSync(j.files.path, 'utf8').split('\n').filter(Boolean);
  const env: Record<string, string> = { ...j.env, ...exported, PATH: [...paths, j.env['PATH']].join(':') };
  for (const [k, v] of Object.entries(exported)) if (v === '') delete env[k];
  return env;
}

async function postStep(j: Job): Promise<Ran> {
  const state = readFileCommands(j.files.state);
  const env = { ...j.env };
  for (const [k, v] of Object.entries(state)) env[`STATE_${k}`] = v;
  return node(join(ACTION, 'post.cjs'), env, j.h.home);
}

describe('action.yml', () => {
  it('declares a node20 JavaScript action with main and post steps and the documented inputs and outputs', () => {
    const a = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as Record<string, any>;
    expect(a['runs']).toEqual({ using: 'node20', main: 'action/main.cjs', post: 'action/post.cjs' });
    expect(Object.keys(a['inputs']).sort()).toEqual(['audience', 'base-url', 'federation-rule-id', 'organization-id', 'profile', 'service-account-id', 'target', 'workspace-id']);
    expect(a['inputs']['organization-id'].required).toBe(true);
    expect(a['inputs']['federation-rule-id'].required).toBe(true);
    expect(a['inputs']['target'].default).toBe('sdk');
    expect(Object.keys(a['outputs'])).toContain('expires-at');
    for (const f of ['main.cjs', 'post.cjs', 'claude-wif-action.cjs']) expect(existsSync(join(ACTION, f))).toBe(true);
  });

  it('the checked-in bundle is built from the current sources (run `npm run build:action` after changing src/)', () => {
    const h = tempHome();
    try {
      const out = join(h.home, 'fresh.cjs');
      const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-action.mjs'), out], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(out, 'utf8') === readFileSync(join(ACTION, 'claude-wif-action.cjs'), 'utf8')).toBe(true);
    } finally {
      h.cleanup();
    }
  });
});

describe('the action in a simulated runner', () => {
  it('exchanges the job\'s OIDC token, masks and exports the token, sets outputs, puts claude-wif on PATH; the post step leaves no token on disk', async () => {
    const j = job(baseInputs());
    try {
      const exchangesBefore = sandbox.exchanges.length;
      const issuedBefore = sandbox.github.issued();
      const main = await node(join(ACTION, 'main.cjs'), j.env, j.h.home);
      expect(main.code, main.stdout + main.stderr).toBe(0);
      expect(sandbox.github.issued()).toBe(issuedBefore + 1);
      expect(sandbox.exchanges.length).toBe(exchangesBefore + 1);

      const exported = readFileCommands(j.files.env);
      const token = exported['ANTHROPIC_AUTH_TOKEN']!;
      expect(token).toMatch(/^sk-ant-oat01-/);
      // Masked before anything else is printed, and never printed otherwise.
      expect(main.stdout.split('\n')[0]).toBe(`::add-mask::${token}`);
      expect(main.stdout.split(token).length).toBe(2);
      expect(main.stderr).not.toContain(token);
      expect(exported['ANTHROPIC_CUSTOM_HEADERS']).toContain('anthropic-beta: oauth-2025-04-20');
      expect(exported['ANTHROPIC_API_KEY']).toBe('');

      const outputs = readFileCommands(j.files.output);
      expect(Number(outputs['expires-at'])).toBe(Number(exported['CLAUDE_WIF_TOKEN_EXPIRES_AT']));
      expect(Number(outputs['expires-at'])).toBeGreaterThan(Date.now() / 1000);
      expect(outputs['profile']).toBe('github-actions');

      // A later step: the exported token calls the API with the oauth beta…
      const step = laterStep(j);
      const res = await fetch(`${sandbox.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${step['ANTHROPIC_AUTH_TOKEN']}`, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'oauth-2025-04-20', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
      // …and the `claude-wif` on PATH uses the action's profile and its cache (no new exchange).
      const later = await exec('claude-wif', ['token'], step, j.h.home);
      expect(later.code, later.stderr).toBe(0);
      expect(later.stdout.trim()).toBe(token);
      const forced = await exec('claude-wif', ['token', '--force-refresh'], step, j.h.home);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stdout.trim()).not.toBe(token);
      expect(sandbox.exchanges.length).toBe(exchangesBefore + 2);

      const post = await postStep(j);
      expect(post.code, post.stdout + post.stderr).toBe(0);
      // The runner's own GITHUB_ENV file holds the exported value (the runner owns and removes it); nothing else may.
      expect(filesContaining(j.h.home, token).filter((f) => f !== j.files.env)).toEqual([]);
      expect(filesContaining(j.h.home, forced.stdout.trim())).toEqual([]);
      expect(readdirSync(j.temp)).toEqual([]);
    } finally {
      j.h.cleanup();
    }
  });

  it('target claude-code exports CLAUDE_CODE_OAUTH_TOKEN; a named profile is written for later --profile runs and its token removed by the post step', async () => {
    const j = job({ ...baseInputs(), target: 'claude-code', profile: 'ci' });
    try {
      const main = await node(join(ACTION, 'main.cjs'), j.env, j.h.home);
      expect(main.code, main.stdout + main.stderr).toBe(0);
      const exported = readFileCommands(j.files.env);
      expect(exported['CLAUDE_CODE_OAUTH_TOKEN']).toMatch(/^sk-ant-oat01-/);
      expect(exported['ANTHROPIC_AUTH_TOKEN']).toBe('');
      const profile = JSON.parse(readFileSync(join(j.h.home, '.config', 'anthropic', 'configs', 'ci.json'), 'utf8')) as Record<string, any>;
      expect(profile['authentication']['federation_rule_id']).toBe('fdrl_sandbox');
      expect(profile['claude_wif']['identity']).toEqual({ source: 'github-actions', audience: 'https://api.anthropic.com' });
      const creds = join(j.h.home, '.config', 'anthropic', 'credentials', 'ci.json');
      expect(existsSync(creds)).toBe(true);

      const post = await postStep(j);
      expect(post.code, post.stdout + post.stderr).toBe(0);
      expect(existsSync(creds)).toBe(false);
      expect(filesContaining(join(j.h.home, '.config'), exported['CLAUDE_CODE_OAUTH_TOKEN']!)).toEqual([]);
    } finally {
      j.h.cleanup();
    }
  });

  it('without `permissions: id-token: write` it fails with an error annotation naming that permission, and exchanges nothing', async () => {
    const j = job(baseInputs(), { oidc: false });
    try {
      const before = sandbox.exchanges.length;
      const main = await node(join(ACTION, 'main.cjs'), j.env, j.h.home);
      expect(main.code).toBe(1);
      expect(main.stdout).toMatch(/^::error title=claude-wif::.*permissions: id-token: write/m);
      expect(sandbox.exchanges.length).toBe(before);
      expect(readFileCommands(j.files.env)).toEqual({});
      const post = await postStep(j);
      expect(post.code).toBe(0);
      expect(readdirSync(j.temp)).toEqual([]);
    } finally {
      j.h.cleanup();
    }
  });

  it('a missing required input is an error annotation naming the input', async () => {
    const { 'federation-rule-id': _omit, ...inputs } = baseInputs();
    const j = job(inputs);
    try {
      const main = await node(join(ACTION, 'main.cjs'), j.env, j.h.home);
      expect(main.code).toBe(1);
      expect(main.stdout).toContain('the input `federation-rule-id` is required');
    } finally {
      j.h.cleanup();
    }
  });
});
