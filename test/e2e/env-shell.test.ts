import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectEnvFormat, formatForShellName, type ParentProbe } from '../../src/output/shell-detect.js';
import { BIN } from '../helpers/cli.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';
import { missingTool } from '../helpers/tty.js';
import { runToEnd, spawnBin, startWorld, waitUntil, type WifWorld } from './exec-helpers.js';

// issue 11 items 5 and 6: `env` warns only where the user must act, and `eval "$(claude-wif env)"`
// typed in fish gets fish syntax (the parent process decides; bash/zsh/sh scripts keep sh syntax
// even when the user's login shell is fish).

let w: WifWorld;
let bin: string;
const staleKey = fakeAnthropicToken('api03', 'stale-parent-key');

beforeAll(async () => {
  w = await startWorld();
  bin = join(w.home.home, 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(BIN, join(bin, 'claude-wif'));
  // Warm the cache, so shells below exercise the hot path too.
  expect((await runToEnd(['token'], w.env)).code).toBe(0);
});
afterAll(async () => {
  await w?.stop();
});

const shellEnv = (extra: Record<string, string> = {}) => ({ ...w.env, PATH: `${bin}:${w.env['PATH']}`, ANTHROPIC_API_KEY: staleKey, ...extra });

describe('env: warnings only where the user must act', () => {
  it('says nothing about ANTHROPIC_API_KEY, whose removal its own output carries (every format)', async () => {
    for (const format of ['sh', 'fish', 'powershell', 'dotenv', 'json']) {
      const r = await runToEnd(['env', '--format', format], { ...w.env, ANTHROPIC_API_KEY: staleKey, ANTHROPIC_AUTH_TOKEN: 'x', CLAUDE_CODE_OAUTH_TOKEN: 'y' });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr, format).not.toMatch(/is set/);
      expect(r.stdout).toContain('ANTHROPIC_API_KEY');
    }
    // status still tells: it changes nothing.
    const status = await runToEnd(['status'], { ...w.env, ANTHROPIC_API_KEY: staleKey });
    expect(status.stderr + status.stdout).toMatch(/ANTHROPIC_API_KEY is set/);
  });

  it('agent: its own environment reaches no consumer, so no warning about it', async () => {
    const dir = join(w.home.home, 'agent-dir');
    const a = spawnBin(['agent', '--dir', dir], { ...w.env, ANTHROPIC_API_KEY: staleKey });
    try {
      await waitUntil(() => /refreshed \(first token/.test(a.stderr()) || a.child.exitCode !== null, 'the agent\'s first token', 20_000);
      expect(a.stderr()).not.toMatch(/ANTHROPIC_API_KEY is set/);
    } finally {
      a.child.kill('SIGTERM');
      await a.exited;
    }
  });
});

describe('env: the default syntax follows the shell that runs it', () => {
  const probe = (p: Partial<ParentProbe>): ParentProbe => ({ platform: 'linux', ppid: 4242, readComm: () => undefined, psComm: () => undefined, ...p });

  it('picks by the parent process; without /proc asks ps only for fish/pwsh login shells', () => {
    expect(detectEnvFormat({ SHELL: '/usr/bin/fish' }, probe({ readComm: () => 'bash' }))).toBe('sh');
    expect(detectEnvFormat({ SHELL: '/bin/bash' }, probe({ readComm: () => 'fish' }))).toBe('fish');
    expect(detectEnvFormat({}, probe({ readComm: () => 'pwsh' }))).toBe('powershell');
    expect(detectEnvFormat({}, probe({ readComm: () => 'python3' }))).toBe('sh');
    let asked = 0;
    const mac = (shell: string, ps: string) => detectEnvFormat({ SHELL: shell }, probe({ platform: 'darwin', psComm: () => (asked++, ps) }));
    expect(mac('/bin/zsh', 'fish')).toBe('sh');
    expect(asked).toBe(0);
    expect(mac('/opt/homebrew/bin/fish', '-fish')).toBe('fish');
    expect(mac('/opt/homebrew/bin/fish', 'bash')).toBe('sh');
    expect(formatForShellName('/usr/local/bin/pwsh.exe')).toBe('powershell');
  });

  const fishMissing = missingTool('fish', 'fish shell');
  it.skipIf(fishMissing)(`fish: eval "$(claude-wif env)" removes the API key and exports the token${fishMissing ? ` (skipped: ${fishMissing})` : ''}`, () => {
    const script = 'eval "$(claude-wif env)"; or exit 9; if set -q ANTHROPIC_API_KEY; echo KEY=$ANTHROPIC_API_KEY; else; echo KEY-GONE; end; string match -q "sk-ant-oat01-*" -- $ANTHROPIC_AUTH_TOKEN; and echo TOKEN-SET';
    const r = spawnSync('fish', ['--no-config', '-c', script], { env: shellEnv({ SHELL: '/usr/bin/fish' }), encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).not.toMatch(/Unknown command/);
    expect(r.stdout).toContain('KEY-GONE');
    expect(r.stdout).toContain('TOKEN-SET');
    // The older fish spelling as well.
    const old = spawnSync('fish', ['--no-config', '-c', 'eval (claude-wif env); set -q ANTHROPIC_API_KEY; and echo LIVE; or echo GONE'], { env: shellEnv(), encoding: 'utf8', timeout: 20_000 });
    expect(old.stdout.trim()).toBe('GONE');
  });

  it.skipIf(fishMissing)('a bash or sh script started from fish (SHELL=fish) still gets sh syntax', () => {
    for (const sh of ['bash', 'sh']) {
      const inner = 'eval "$(claude-wif env)" || exit 9; [ -z "${ANTHROPIC_API_KEY+x}" ] && echo KEY-GONE; case "$ANTHROPIC_AUTH_TOKEN" in sk-ant-oat01-*) echo TOKEN-SET;; esac';
      const r = spawnSync('fish', ['--no-config', '-c', `${sh} -c '${inner}'`], { env: shellEnv({ SHELL: '/usr/bin/fish' }), encoding: 'utf8', timeout: 20_000 });
      expect(r.status, `${sh}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('KEY-GONE');
      expect(r.stdout).toContain('TOKEN-SET');
    }
  });

  const zshMissing = missingTool('zsh', 'zsh');
  it.skipIf(zshMissing)('zsh and a #!/bin/sh script file get sh syntax', () => {
    const script = join(w.home.home, 'use-env.sh');
    writeFileSync(script, '#!/bin/sh\neval "$(claude-wif env)" || exit 9\n[ -z "${ANTHROPIC_API_KEY+x}" ] && echo KEY-GONE\n', { mode: 0o755 });
    const z = spawnSync('zsh', ['-f', '-c', 'eval "$(claude-wif env)"; [[ -z "${ANTHROPIC_API_KEY+x}" ]] && echo KEY-GONE'], { env: shellEnv({ SHELL: '/usr/bin/fish' }), encoding: 'utf8', timeout: 20_000 });
    expect(z.stdout).toContain('KEY-GONE');
    const f = spawnSync(script, [], { env: shellEnv({ SHELL: '/usr/bin/fish' }), encoding: 'utf8', timeout: 20_000 });
    expect(f.stdout).toContain('KEY-GONE');
  });
});
