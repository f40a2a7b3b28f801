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
