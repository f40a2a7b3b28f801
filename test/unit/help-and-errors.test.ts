import { recordingProcess } from '../../src/cli/io.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closest, didYouMean, editDistance } from '../../src/util/suggest.js';
import { runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome } from '../helpers/env.js';

const h = tempHome();
afterAll(() => h.cleanup());

describe('did you mean', () => {
  it('edit distance counts a transposition as one edit', () => {
    expect(editDistance('sandbox', 'sandbx')).toBe(1);
    expect(editDistance('kubernetes', 'kubenretes')).toBe(1);
    expect(editDistance('gcp', 'aws')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests only close names, never the word itself, all ties kept', () => {
    expect(closest('kubernets', ['kubernetes', 'gitlab', 'gcp'])).toEqual(['kubernetes']);
    expect(closest('prod', ['prod', 'staging'])).toEqual([]);
    expect(closest('ci', ['cd', 'ca', 'production'])).toEqual(['cd', 'ca']);
    expect(closest('gcp', ['aws', 'okta'])).toEqual([]);
    expect(closest('Sandbox', ['sandbox'])).toEqual(['sandbox']);
    expect(didYouMean('azure', ['aws'])).toBe('');
  });

  it('a mistyped profile names the closest profile and the command that lists them', async () => {
    const dir = join(h.home, 'cfg');
    mkdirSync(join(dir, 'configs'), { recursive: true });
    for (const p of ['sandbox', 'production']) writeFileSync(join(dir, 'configs', `${p}.json`), '{}');
    const r = await runCli(['--config-dir', dir, '--profile', 'sandbx', 'status'], cleanEnv(h.home));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('(did you mean "sandbox"?)');
    expect(r.stderr).toContain('`claude-wif profiles list`');
    expect(r.stderr).not.toMatch(/\bls\b/);
  });

  it('a mistyped identity source names the closest source, from every command that takes one', async () => {
    const env = cleanEnv(h.home, { ANTHROPIC_CONFIG_DIR: join(h.home, 'empty'), ANTHROPIC_FEDERATION_RULE_ID: 'fdrl_01abc', ANTHROPIC_ORGANIZATION_ID: '00000000-0000-0000-0000-000000000000' });
    for (const args of [['status'], ['identity'], ['configure', '--profile', 'x', '--organization-id', '00000000-0000-0000-0000-000000000000', '--federation-rule-id', 'fdrl_01abc']]) {
      const r = await runCli(['--identity-source', 'kubernets', ...args], env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain('unknown identity source "kubernets" (from flag --identity-source) (did you mean "kubernetes"?)');
    }
  });
});

describe('status with nothing configured', () => {
  it('says what to do next on stderr, like `gh auth status`, and exits with config_missing', async () => {
    const empty = join(h.home, 'nothing');
    const r = await runCli(['--config-dir', empty, 'status'], cleanEnv(h.home));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Not configured');
    expect(r.stderr).toContain('claude-wif configure');
    expect(r.stderr).toContain('claude-wif sandbox --write-profile sandbox --activate');
    expect(r.stderr).toContain('(config_missing, exit 2)');
  });

  it('names the profiles that exist when none is selected', async () => {
    const dir = join(h.home, 'some');
    mkdirSync(join(dir, 'configs'), { recursive: true });
    writeFileSync(join(dir, 'configs', 'ci.json'), '{}');
    const r = await runCli(['--config-dir', dir, 'status'], cleanEnv(h.home));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Profiles there: ci. Use one with `claude-wif profiles use <name>`');
  });

  it('--json keeps the stable error document', async () => {
    const r = await runCli(['--config-dir', join(h.home, 'nothing'), 'status', '--json'], cleanEnv(h.home));
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'config_missing', exit_code: 2 } });
  });
});

describe('help', () => {
  /** Words of an example line as a shell would split them, up to a pipe or redirection. */
  function words(line: string): string[] {
    const out: string[] = [];
    let cur = '';
    let quote: string | undefined;
    let any = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (quote) {
        if (ch === quote) quote = undefined;
        else cur += ch;
      } else if (ch === '"' || ch === "'") {
        quote = ch;
        any = true;
      } else if (ch === ' ') {
        if (cur || any) out.push(cur);
        cur = '';
        any = false;
      } else if (ch === '|' || ch === '>') {
        break;
      } else cur += ch;
    }
    if (cur || any) out.push(cur);
    return out;
  }

  async function program() {
    const { buildProgram } = await import('../../src/cli/main.js');
    const p = buildProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: h.home, clock: { now: () => 0, sleep: async () => {} }, stdoutIsTTY: false, stderrIsTTY: false, stdinIsTTY: false, proc: recordingProcess() }, () => {});
    return p;
  }

  it('every command has examples, and its help shows them and the global options', async () => {
    const { EXAMPLES, commandPath } = await import('../../src/cli/help.js');
    const p = await program();
    const leaves: import('commander').Command[] = [];
    const walk = (c: import('commander').Command): void => {
      for (const s of c.commands) (s.commands.length ? walk(s) : leaves.push(s));
    };
    walk(p);
    for (const cmd of leaves) {
      const name = commandPath(cmd);
      expect(EXAMPLES[name]?.length ?? 0, `no examples for ${name}`).toBeGreaterThan(0);
      const help = cmd.helpInformation();
      expect(help, name).toContain('Global Options:');
      expect(help, name).toContain('--profile <name>');
    }
    for (const name of Object.keys(EXAMPLES)) expect(leaves.map(commandPath), `examples for a command that does not exist: ${name}`).toContain(name);
  });

  it('every example is accepted by the parser (commands, options, choices)', async () => {
    const { EXAMPLES } = await import('../../src/cli/help.js');
    const { CommanderError } = await import('commander');
    for (const [name, examples] of Object.entries(EXAMPLES)) {
      for (const [line] of examples) {
        const argv = words(line);
        if (argv[0] !== 'claude-wif') continue;
        const p = await program();
        // Parse only: every action is replaced by one that records what was chosen.
        let ran: string | undefined;
        const stub = (c: import('commander').Command): void => {
          for (const s of c.commands) {
            s.action(() => void (ran = s.name()));
            stub(s);
          }
        };
        stub(p);
        try {
          await p.parseAsync(argv.slice(1), { from: 'user' });
        } catch (err) {
          if (err instanceof CommanderError) throw new Error(`example for ${name} does not parse: ${line}: ${err.message}`);
          throw err;
        }
        expect(ran, line).toBe(name.split(' ').at(-1));
      }
    }
  });
});
