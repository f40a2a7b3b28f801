// Shell completion: the checked-in scripts match what the command tree generates, and real
// bash, zsh and fish complete commands, options and (dynamic) profile names with them.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { missingTool, Tmux } from '../helpers/tty.js';
import { COMPLETION_FILES, type Shell } from '../../src/cli/completion.js';

let h: TempHome;
let env: Record<string, string>;
let script: (shell: Shell) => string;
beforeEach(() => {
  h = tempHome();
  // Two profiles in a temporary config dir, and `claude-wif` on PATH (the built binary).
  mkdirSync(join(h.configDir, 'configs'), { recursive: true });
  for (const name of ['alpha', 'beta-two', 'staging']) {
    writeFileSync(join(h.configDir, 'configs', `${name}.json`), JSON.stringify({ version: '1.0', authentication: { type: 'user_oauth' } }));
  }
  mkdirSync(join(h.home, 'bin'));
  symlinkSync(BIN, join(h.home, 'bin', 'claude-wif'));
  env = cleanEnv(h.home, { PATH: `${join(h.home, 'bin')}:${process.env['PATH']}` });
  script = (shell) => join(ROOT, 'completions', COMPLETION_FILES[shell]);
});
afterEach(() => h.cleanup());

describe('completion scripts', () => {
  it.each(Object.keys(COMPLETION_FILES) as Shell[])('completions/%s is in sync with the command tree (regenerate: npm run build && node scripts/completions.mjs)', async (shell) => {
    const r = await runCli(['completion', shell], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(readFileSync(script(shell), 'utf8')).toBe(r.stdout);
  });

  it('covers every command and option the program has', async () => {
    const help = await runCli(['--help'], env);
    const bash = readFileSync(script('bash'), 'utf8');
    for (const cmd of ['token', 'env', 'credential-process', 'status', 'doctor', 'configure', 'profiles', 'cache', 'completion', 'sandbox']) {
      expect(help.stdout).toContain(cmd);
      expect(bash).toContain(cmd);
    }
    for (const opt of ['--profile', '--config-dir', '--identity-source', '--cache', '--min-ttl', '--organization-id', '--offline', '--names']) expect(bash).toContain(opt);
  });

  it('rejects an unknown shell', async () => {
    const r = await runCli(['completion', 'tcsh'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are bash, zsh, fish, powershell/);
  });

  it('`profiles list --names` prints names only, and nothing at all without a config dir', async () => {
    expect((await runCli(['profiles', 'list', '--names'], env)).stdout).toBe('alpha\nbeta-two\nstaging\n');
    const none = await runCli(['--config-dir', join(h.home, 'nowhere'), 'profiles', 'list', '--names'], env);
    expect(none).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});

const noBash = missingTool('bash', 'the bash completion test needs it');
describe.skipIf(noBash)(`bash${noBash ? ` — skipped: ${noBash}` : ''}`, () => {
  const complete = (words: string[]): string[] => {
    const prog = `source ${JSON.stringify(script('bash'))}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=()
_claude_wif
printf '%s\\n' "\${COMPREPLY[@]}"`;
    const out = execFileSync('bash', ['--norc', '--noprofile', '-c', prog], { env, encoding: 'utf8' });
    return out.split('\n').filter(Boolean);
  };

  it('completes commands, subcommands, options, choices and profile names', () => {
    expect(complete(['claude-wif', ''])).toEqual(expect.arrayContaining(['token', 'doctor', 'configure', 'profiles', 'cache', 'completion']));
    expect(complete(['claude-wif', 'pro']).sort()).toEqual(['profiles', 'proxy']);
    expect(complete(['claude-wif', 'prof'])).toEqual(['profiles']);
    expect(complete(['claude-wif', 'profiles', ''])).toEqual(['list', 'show', 'use']);
    expect(complete(['claude-wif', '--profile', ''])).toEqual(['alpha', 'beta-two', 'staging']);
    expect(complete(['claude-wif', '-p', 'st'])).toEqual(['staging']);
    expect(complete(['claude-wif', 'profiles', 'use', 'b'])).toEqual(['beta-two']);
    expect(complete(['claude-wif', '--debug', 'profiles', 'show', 'a'])).toEqual(['alpha']);
    expect(complete(['claude-wif', 'token', '--f'])).toEqual(['--force-refresh', '--format']);
    expect(complete(['claude-wif', 'token', '--format', ''])).toEqual(['raw', 'json']);
    expect(complete(['claude-wif', 'completion', ''])).toEqual(['bash', 'zsh', 'fish', 'powershell']);
    expect(complete(['claude-wif', '--cache', 'k'])).toEqual(['keyring']);
    expect(complete(['claude-wif', 'configure', '--identity-source', 'f'])).toEqual(['file']);
  });

  it('honours a --config-dir typed earlier on the line', () => {
    const other = join(h.home, 'other');
    mkdirSync(join(other, 'configs'), { recursive: true });
    writeFileSync(join(other, 'configs', 'elsewhere.json'), '{}');
    expect(complete(['claude-wif', '--config-dir', other, '--profile', ''])).toEqual(['elsewhere']);
  });
});

const noFish = missingTool('fish', 'the fish completion test needs it');
describe.skipIf(noFish)(`fish${noFish ? ` — skipped: ${noFish}` : ''}`, () => {
  const complete = (line: string): string[] => {
    const r = spawnSync('fish', ['--no-config', '-c', `source ${script('fish')}; complete -C ${JSON.stringify(line)}`], { env, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!);
  };

  it('completes commands, subcommands, options and profile names', () => {
    expect(complete('claude-wif ')).toEqual(expect.arrayContaining(['token', 'doctor', 'profiles', 'cache']));
    expect(complete('claude-wif profiles ')).toEqual(['list', 'show', 'use']);
    expect(complete('claude-wif --profile ')).toEqual(['alpha', 'beta-two', 'staging']);
    expect(complete('claude-wif profiles use be')).toEqual(['beta-two']);
    expect(complete('claude-wif cache clear --a')).toEqual(['--all']);
    expect(complete('claude-wif completion ').sort()).toEqual(['bash', 'fish', 'powershell', 'zsh']);
  });
});

const noZsh = missingTool('zsh', 'the zsh completion test needs it') ?? missingTool('tmux', 'zsh completion is driven on a pseudo-terminal');
describe.skipIf(noZsh)(`zsh${noZsh ? ` — skipped: ${noZsh}` : ''}`, () => {
  it('an interactive zsh completes a profile name and a subcommand on Tab', async () => {
    const zfunc = join(h.home, 'zfunc');
    mkdirSync(zfunc);
    copyFileSync(script('zsh'), join(zfunc, '_claude-wif'));
    writeFileSync(join(h.home, '.zshrc'), `fpath=(${zfunc} $fpath)\nautoload -Uz compinit && compinit -u -d ${h.home}/.zcompdump\nPROMPT='READY> '\n`);
    const term = new Tmux(h.home);
    try {
      term.start(['zsh', '-i'], { ...env, ZDOTDIR: h.home, TERM: 'xterm' }, h.home);
      await term.waitFor(/READY> $/m);
      term.send('claude-wif --profile st', 'Tab');
      await term.waitFor(/^READY> claude-wif --profile staging +$/m);
      term.send('', 'C-u');
      term.send('claude-wif profiles use be', 'Tab');
      await term.waitFor(/^READY> claude-wif profiles use beta-two +$/m);
      term.send('', 'C-u');
      term.send('claude-wif prof', 'Tab');
      await term.waitFor(/^READY> claude-wif profiles +$/m);
      term.send('', 'C-u');
      term.send('claude-wif cache cl', 'Tab');
      await term.waitFor(/^READY> claude-wif cache clear +$/m);
    } finally {
      term.kill();
    }
  }, 30_000);
});

describe('powershell', () => {
  const noPwsh = missingTool('pwsh', 'Debian does not package PowerShell; the script is generated and kept in sync only');
  it.skipIf(noPwsh)(`Register-ArgumentCompleter script parses${noPwsh ? ` — skipped: ${noPwsh}` : ''}`, () => {
    const r = spawnSync('pwsh', ['-NoProfile', '-Command', `. ${script('powershell')}; 'ok'`], { env, encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('ok');
  });
});
