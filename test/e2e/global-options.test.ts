// Every command honours the global options: they are parsed once and turned into the resolver's
// inputs in one place (cli/context.ts resolveInputs). Proved here with --cache keyring, on every
// command where a token cache applies, against an in-memory keyring: a token-producing command
// leaves its token in the keyring and no credentials file; a reporting command says "keyring".
// (Before this, `claude-wif --cache keyring agent --dir d <profile>` wrote the credentials file.)
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryKeyring, setKeyringBackend, type KeyringBackend } from '../../src/cache/keyring-store.js';
import { recordingProcess } from '../../src/cli/io.js';
import { runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { sharedSandbox, type SandboxSetup } from '../helpers/sandbox.js';
import { waitUntil } from './exec-helpers.js';

let s: SandboxSetup;
sharedSandbox((setup) => (s = setup));

let h: TempHome;
let env: Record<string, string>;
let kr: KeyringBackend & { entries: Map<string, string> };
let idFile: string;
const credFile = () => join(h.configDir, 'credentials', 'default.json');

/** An empty keyring and a never-exchanged identity JWT (single-use jti), for the next command. */
async function fresh(): Promise<void> {
  kr.entries.clear();
  writeFileSync(idFile, await s.sandbox.mint(), { mode: 0o600 });
}

beforeEach(async () => {
  h = tempHome();
  env = cleanEnv(h.home);
  idFile = join(h.home, 'id.jwt');
  writeFileSync(idFile, await s.sandbox.mint(), { mode: 0o600 });
  mkdirSync(join(h.configDir, 'configs'), { recursive: true });
  // The profile says nothing about the cache: only the flag can select the keyring.
  writeFileSync(join(h.configDir, 'configs', 'default.json'), JSON.stringify(s.sandbox.profile({ identityTokenPath: idFile })));
  kr = memoryKeyring();
  setKeyringBackend(kr);
  return () => h.cleanup();
});
afterEach(() => setKeyringBackend(undefined));

/** The token went to the keyring under the profile's credentials path, and no file was written. */
function expectKeyringToken(what: string): void {
  expect(kr.entries.has(credFile()), `${what}: keyring entry`).toBe(true);
  expect(JSON.parse(kr.entries.get(credFile())!)).toMatchObject({ type: 'oauth_token', access_token: expect.stringMatching(/^sk-ant-oat01-/) });
  expect(existsSync(credFile()), `${what}: no credentials file`).toBe(false);
}

/** Runs a long-running command in-process until its first JSON line, then stops it with SIGTERM. */
async function runDaemon(args: string[]): Promise<{ code: number; stderr: string; info: Record<string, unknown> }> {
  const proc = recordingProcess();
  let out = '';
  const running = runCli(args, env, { proc, stdout: (t) => (out += t) });
  let ended = false;
  void running.then(() => (ended = true));
  await waitUntil(() => out.includes('\n') || ended, `${args.join(' ')} to start`);
  proc.emit('SIGTERM');
  const r = await running;
  return { code: r.code, stderr: r.stderr, info: out ? (JSON.parse(out.split('\n')[0]!) as Record<string, unknown>) : {} };
}

describe('--cache keyring reaches every command that has a token cache', () => {
  it('token, env, credential-process', async () => {
    for (const cmd of [['token'], ['env', '--format', 'json'], ['credential-process']]) {
      await fresh();
      const r = await runCli(['--cache', 'keyring', ...cmd], env);
      expect(r.code, `${cmd[0]}: ${r.stderr}`).toBe(0);
      expectKeyringToken(cmd[0]!);
    }
  });

  it('exec (sidecar and token modes)', async () => {
    for (const mode of ['sidecar', 'token']) {
      await fresh();
      const r = await runCli(['--cache', 'keyring', 'exec', '--mode', mode, '--', process.execPath, '-e', ''], env, { proc: recordingProcess() });
      expect(r.code, `${mode}: ${r.stderr}`).toBe(0);
      expectKeyringToken(`exec --mode ${mode}`);
    }
  });

  it('proxy', async () => {
    const r = await runDaemon(['--cache', 'keyring', 'proxy']);
    expect(r.code, r.stderr).toBe(0);
    expectKeyringToken('proxy');
  });

  it('agent, for the selected profile and for profiles named as arguments', async () => {
    for (const names of [[], ['default']]) {
      await fresh();
      const dir = join(h.home, `agent-${names.length}`);
      const r = await runDaemon(['--cache', 'keyring', 'agent', '--dir', dir, ...names]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.info['profiles']).toEqual(['default']);
      // The consumers' copy in the agent's directory is its output, not its cache.
      expect(existsSync(join(dir, 'credentials', 'default.json'))).toBe(true);
      expectKeyringToken(`agent ${names.join(' ')}`);
    }
  });

  it('status, profiles show, cache list, cache clear, doctor report and act on the keyring', async () => {
    expect((await runCli(['--cache', 'keyring', 'token'], env)).code).toBe(0);
    expectKeyringToken('token');

    const st = JSON.parse((await runCli(['--cache', 'keyring', 'status', '--json'], env)).stdout);
    expect(st.cache).toMatchObject({ backend: 'keyring', backend_origin: 'flag --cache', state: 'fresh' });

    const show = JSON.parse((await runCli(['--cache', 'keyring', 'profiles', 'show', 'default', '--json'], env)).stdout);
    expect(show.resolved.cache).toMatchObject({ backend: 'keyring', backend_origin: 'flag --cache' });

    const list = JSON.parse((await runCli(['--cache', 'keyring', 'cache', 'list', '--json'], env)).stdout);
    expect(list.tokens).toEqual([expect.objectContaining({ profile: 'default', backend: 'keyring', state: 'fresh' })]);
    // Without the flag the same command looks at the file cache, where there is nothing.
    const plain = JSON.parse((await runCli(['cache', 'list', '--json'], env)).stdout);
    expect(plain.tokens).not.toEqual([expect.objectContaining({ backend: 'keyring' })]);

    const doc = JSON.parse((await runCli(['--cache', 'keyring', 'doctor', '--json', '--offline'], env, { cwd: h.home })).stdout);
    expect(doc.checks.find((c: { id: string }) => c.id === 'cache')).toMatchObject({ detail: expect.stringContaining('(keyring)') });

    const cleared = await runCli(['--cache', 'keyring', 'cache', 'clear', '--json'], env);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(kr.entries.size).toBe(0);
  });

  it('configure records it in the profile', async () => {
    rmSync(join(h.configDir, 'configs', 'default.json'));
    const r = await runCli(
      ['--cache', 'keyring', '--profile', 'kr', 'configure', '--organization-id', '00000000-0000-4000-8000-000000000001', '--federation-rule-id', 'fdrl_x', '--identity-source', 'file', '--identity-token-file', join(h.home, 'id.jwt')],
      env,
      { cwd: h.home },
    );
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(join(h.configDir, 'configs', 'kr.json'), 'utf8'));
    expect(doc.claude_wif).toMatchObject({ cache: 'keyring' });
  });

  it('a bad --cache value is refused once, at parse time, before any command runs', async () => {
    const r = await runCli(['--cache', 'vault', 'token'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cache backend "vault" \(from flag --cache\) is not one of file, keyring/);
    expect(kr.entries.size).toBe(0);
  });
});
