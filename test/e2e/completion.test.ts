// Shell completion: thin scripts that ask `claude-wif __complete`, which reads the same commander
// tree the parser uses. The checked-in scripts match the generator; real bash, zsh and fish
// complete commands, every option that takes a value (per command), profile names, files, and
// the child command after `exec --`.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { missingTool, Tmux } from '../helpers/tty.js';
import { COMPLETION_FILES, DIR_OPTIONS, FILE_OPTIONS, type Shell } from '../../src/cli/completion.js';
import { recordingProcess } from '../../src/cli/io.js';
import { sourceNames } from '../../src/config/source-options.js';
import { CACHE_BACKENDS } from '../../src/core/resolve.js';

let h: TempHome;
let env: Record<string, string>;
const script = (shell: Shell): string => join(ROOT, 'completions', COMPLETION_FILES[shell]);
const PROFILES = ['alpha', 'beta-two', 'staging'];
beforeAll(() => {
  h = tempHome();
  // Profiles in a temporary config dir, a file to complete, and `claude-wif` on PATH (the built binary).
  mkdirSync(join(h.configDir, 'configs'), { recursive: true });
  for (const name of PROFILES) writeFileSync(join(h.configDir, 'configs', `${name}.json`), JSON.stringify({ version: '1.0', authentication: { type: 'user_oauth' } }));
  mkdirSync(join(h.home, 'bin'));
  symlinkSync(BIN, join(h.home, 'bin', 'claude-wif'));
  writeFileSync(join(h.home, 'bin', 'wifcomplete-child'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(h.home, 'token-file.jwt'), '');
  env = cleanEnv(h.home, { PATH: `${join(h.home, 'bin')}:${process.env['PATH']}` });
});
afterAll(() => h.cleanup());

/** Every option that takes a value, per command path, with what it must complete to. */
interface Case {
  words: string[];
  expect: { values: string[] } | { files: true } | { none: true };
}

async function cases(): Promise<Case[]> {
  const { buildProgram } = await import('../../src/cli/main.js');
  const program = buildProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: ROOT, clock: { now: () => 0, sleep: async () => {} }, stdoutIsTTY: false, stderrIsTTY: false, stdinIsTTY: false, proc: recordingProcess() }, () => {});
  const extra: Record<string, readonly string[]> = { '--identity-source': sourceNames(), '--cache': CACHE_BACKENDS };
  const out: Case[] = [];
  const walk = (cmd: Command, path: string[]): void => {
    for (const o of cmd.options as Option[]) {
      if (!(o.required || o.optional) || !o.long) continue;
      const choices = o.argChoices ?? extra[o.long];
      const words = [...path, o.long];
      if (o.long === '--profile') out.push({ words, expect: { values: PROFILES } });
      else if (choices) out.push({ words, expect: { values: [...choices] } });
      else if (FILE_OPTIONS.has(o.long)) out.push({ words, expect: { files: true } });
      else if (!DIR_OPTIONS.has(o.long)) out.push({ words, expect: { none: true } });
    }
    for (const sub of cmd.commands as Command[]) walk(sub, [...path, sub.name()]);
  };
  walk(program, []);
  return out;
}

describe('completion scripts', () => {
  it.each(Object.keys(COMPLETION_FILES) as Shell[])('completions/%s is in sync with the generator (regenerate: npm run completions)', async (shell) => {
    const r = await runCli(['completion', shell], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(readFileSync(script(shell), 'utf8')).toBe(r.stdout);
  });

  it('rejects an unknown shell', async () => {
    const r = await runCli(['completion', 'tcsh'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are bash, zsh, fish, powershell/);
  });

  it('__complete answers from each command\'s own definitions: env --format is not token --format', async () => {
    const q = async (...words: string[]) => (await runCli(['__complete', ...words], env)).stdout.split('\n').filter(Boolean);
    expect(await q('env', '--format', '')).toEqual(['sh\t', 'fish\t', 'powershell\t', 'cmd\t', 'dotenv\t', 'json\t', 'github\t', ':values']);
    expect(await q('token', '--format', '')).toEqual(['raw\t', 'json\t', ':values']);
    expect(await q('exec', '--mode', 'p')).toEqual(['proxy\t', ':values']);
    expect(await q('exec', '--', 'nod')).toEqual([':commands']);
    expect(await q('exec', '--mode', 'token', '--', 'node', '')).toEqual([':files']);
    expect(await q('env', '--format=f')).toEqual(['--format=fish\t', ':values']);
    expect(await q('--profile', '')).toEqual([...PROFILES.map((p) => `${p}\tprofile`), ':values']);
    // A word that looks like a global option is data here, never parsed.
    expect((await runCli(['__complete', '--version'], env)).stdout).toMatch(/^--version\t/);
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
    const out = execFileSync('bash', ['--norc', '--noprofile', '-c', prog], { env, encoding: 'utf8', cwd: h.home });
    return out.split('\n').filter(Boolean);
  };

  it('completes commands, subcommands, options, choices and profile names', () => {
    expect(complete(['claude-wif', ''])).toEqual(expect.arrayContaining(['token', 'doctor', 'configure', 'profiles', 'cache', 'completion']));
    expect(complete(['claude-wif', 'pro']).sort()).toEqual(['profiles', 'proxy']);
    expect(complete(['claude-wif', 'profiles', ''])).toEqual(['list', 'show', 'use']);
    expect(complete(['claude-wif', '-p', 'st'])).toEqual(['staging']);
    expect(complete(['claude-wif', 'profiles', 'use', 'b'])).toEqual(['beta-two']);
    expect(complete(['claude-wif', '--debug', 'profiles', 'show', 'a'])).toEqual(['alpha']);
    expect(complete(['claude-wif', 'token', '--f'])).toEqual(['--force-refresh', '--format']);
    expect(complete(['claude-wif', 'completion', ''])).toEqual(['bash', 'zsh', 'fish', 'powershell']);
  });

  it('every option that takes a value completes what that command accepts', async () => {
    // One bash for every case (each Tab still runs the binary): cheaper on a loaded machine.
    const all = await cases();
    const prog = `source ${JSON.stringify(script('bash'))}
${all.map((c) => `COMP_WORDS=(claude-wif ${[...c.words, ''].map((w) => `'${w}'`).join(' ')}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _claude_wif; printf '%s\\n' "\${COMPREPLY[@]}"; echo '@@END@@'`).join('\n')}`;
    const out = execFileSync('bash', ['--norc', '--noprofile', '-c', prog], { env, encoding: 'utf8', cwd: h.home }).split('@@END@@\n');
    all.forEach((c, i) => {
      const got = out[i]!.split('\n').filter(Boolean);
      if ('values' in c.expect) expect(got, c.words.join(' ')).toEqual(c.expect.values);
      else if ('files' in c.expect) expect(got, c.words.join(' ')).toContain('token-file.jwt');
      else expect(got, c.words.join(' ')).toEqual([]);
    });
  }, 180_000);

  it('completes the child command after `exec --`, then files', () => {
    expect(complete(['claude-wif', 'exec', '--', 'wifcomplete-ch'])).toEqual(['wifcomplete-child']);
    expect(complete(['claude-wif', 'exec', '--', 'wifcomplete-child', 'token-f'])).toEqual(['token-file.jwt']);
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
    const r = spawnSync('fish', ['--no-config', '-c', `source ${script('fish')}; complete -C ${JSON.stringify(line)}`], { env, encoding: 'utf8', cwd: h.home });
    expect(r.stderr).toBe('');
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!);
  };

  it('completes commands, subcommands, options and profile names', () => {
    expect(complete('claude-wif ')).toEqual(expect.arrayContaining(['token', 'doctor', 'profiles', 'cache']));
    expect(complete('claude-wif profiles ')).toEqual(['list', 'show', 'use']);
    expect(complete('claude-wif profiles use be')).toEqual(['beta-two']);
    expect(complete('claude-wif cache clear --a')).toEqual(['--all']);
  });

  it('every option that takes a value completes what that command accepts', async () => {
    const all = await cases();
    const prog = `source ${script('fish')}\n${all.map((c) => `complete -C ${JSON.stringify(`claude-wif ${c.words.join(' ')} `)}; echo '@@END@@'`).join('\n')}`;
    const r = spawnSync('fish', ['--no-config', '-c', prog], { env, encoding: 'utf8', cwd: h.home });
    expect(r.stderr).toBe('');
    const out = r.stdout.split('@@END@@\n');
    all.forEach((c, i) => {
      const got = out[i]!.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!);
      if ('values' in c.expect) expect(got.sort(), c.words.join(' ')).toEqual([...c.expect.values].sort());
      else if ('files' in c.expect) expect(got, c.words.join(' ')).toContain('token-file.jwt');
      else expect(got, c.words.join(' ')).toEqual([]);
    });
  }, 180_000);

  it('completes the child command after `exec --`', () => {
    expect(complete('claude-wif exec -- wifcomplete-ch')).toContain('wifcomplete-child');
  });
});

const noZshOnly = missingTool('zsh', 'the zsh completion test needs it');
describe.skipIf(noZshOnly)(`zsh${noZshOnly ? ` — skipped: ${noZshOnly}` : ''}`, () => {
  /**
   * Runs the script's function as compsys would call it, with words/CURRENT set, and zsh's own
   * completion helpers (_describe, _files, _command_names) standing in to print what they get.
   */
  const completeMany = (lines: string[][]): string[][] => {
    const prog = `
_describe() { local -a arr; arr=("\${(@P)4}"); printf '%s\\n' "\${(@)arr%%:*}"; }
_files() { print -- "FILES $*"; }
_command_names() { print -- "COMMANDS"; }
compdef() { :; }
source ${JSON.stringify(script('zsh'))}
${lines.map((words) => `words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=\${#words}; _claude-wif; print -- '@@END@@'`).join('\n')}
true`;
    const out = execFileSync('zsh', ['-f', '-c', prog], { env, encoding: 'utf8', cwd: h.home });
    return out.split('@@END@@\n').map((chunk) => chunk.split('\n').filter(Boolean).map((l) => l.replace(/\\:/g, ':')));
  };

  it('every option that takes a value completes what that command accepts', async () => {
    const all: Array<{ words: string[]; expect: Case['expect'] | { exact: string[] } }> = [
      ...(await cases()).map((c) => ({ words: ['claude-wif', ...c.words, ''], expect: c.expect })),
      { words: ['claude-wif', 'exec', '--', 'nod'], expect: { exact: ['COMMANDS'] } },
      { words: ['claude-wif', 'profiles', ''], expect: { exact: ['list', 'show', 'use'] } },
    ];
    const out = completeMany(all.map((c) => c.words));
    all.forEach((c, i) => {
      const got = out[i]!;
      const what = c.words.join(' ');
      if ('exact' in c.expect) expect(got, what).toEqual(c.expect.exact);
      else if ('values' in c.expect) expect(got, what).toEqual(c.expect.values);
      else if ('files' in c.expect) expect(got, what).toEqual(['FILES ']);
      else expect(got, what).toEqual([]);
    });
  }, 180_000);

  const noTmux = missingTool('tmux', 'zsh completion is driven on a pseudo-terminal');
  it.skipIf(noTmux)(`an interactive zsh completes on Tab${noTmux ? ` — skipped: ${noTmux}` : ''}`, async () => {
    const zfunc = join(h.home, 'zfunc');
    mkdirSync(zfunc, { recursive: true });
    copyFileSync(script('zsh'), join(zfunc, '_claude-wif'));
    writeFileSync(join(h.home, '.zshrc'), `fpath=(${zfunc} $fpath)\nautoload -Uz compinit && compinit -u -d ${h.home}/.zcompdump\nPROMPT='READY> '\n`);
    const term = new Tmux(h.home);
    try {
      term.start(['zsh', '-i'], { ...env, ZDOTDIR: h.home, TERM: 'xterm' }, h.home);
      await term.waitFor(/READY> $/m);
      term.send('claude-wif --profile st', 'Tab');
      await term.waitFor(/^READY> claude-wif --profile staging +$/m);
      term.send('', 'C-u');
      term.send('claude-wif env --format dot', 'Tab');
      await term.waitFor(/^READY> claude-wif env --format dotenv +$/m);
      term.send('', 'C-u');
      term.send('claude-wif exec --mode fed', 'Tab');
      await term.waitFor(/^READY> claude-wif exec --mode federation +$/m);
      term.send('', 'C-u');
      term.send('claude-wif cache cl', 'Tab');
      await term.waitFor(/^READY> claude-wif cache clear +$/m);
    } finally {
      term.kill();
    }
  }, 60_000);
});

describe('powershell', () => {
  const noPwsh = missingTool('pwsh', 'Debian does not package PowerShell; the script is generated and kept in sync only');
  it.skipIf(noPwsh)(`Register-ArgumentCompleter script parses${noPwsh ? ` — skipped: ${noPwsh}` : ''}`, () => {
    const r = spawnSync('pwsh', ['-NoProfile', '-Command', `. ${script('powershell')}; 'ok'`], { env, encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('ok');
  });
});
