import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/util/errors.js';
import { ROOT } from '../helpers/cli.js';
import { recordingProcess } from '../../src/cli/io.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README', () => {
  it('documents every error code with its exit code', () => {
    for (const [code, { exit }] of Object.entries(ERROR_CODES)) {
      expect(readme, `README error table lacks ${code}`).toMatch(new RegExp(`\\| \`${code}\` \\| ${exit} \\|`));
    }
  });

  it('gives the two quick-start commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toMatch(/^npm test\b/m);
  });
});

describe('README configure flags', () => {
  it('lists every source option flag configure accepts', async () => {
    const { allSourceFlags } = await import('../../src/config/source-options.js');
    const table = readme.slice(readme.indexOf('## Configure'), readme.indexOf('## Recipes'));
    for (const o of allSourceFlags()) expect(table, `README configure table lacks --${o.flag}`).toMatch(new RegExp(`\`--${o.flag}[\` ]`));
  });
});

describe('README command table', () => {
  it('lists every command the program has', async () => {
    const { buildProgram } = await import('../../src/cli/main.js');
    const program = buildProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: ROOT, clock: { now: () => 0, sleep: async () => {} }, stdoutIsTTY: false, stderrIsTTY: false, stdinIsTTY: false, proc: recordingProcess() }, () => {});
    const table = readme.slice(readme.indexOf('### Commands'), readme.indexOf('### `env` targets'));
    for (const cmd of program.commands) {
      const subs = cmd.commands.length ? cmd.commands.map((c) => `${cmd.name()} ${c.name()}`) : [cmd.name()];
      for (const name of subs) expect(table, `README command table lacks ${name}`).toMatch(new RegExp(`\\| \`${name}[\` \\[]`));
    }
  });
});
