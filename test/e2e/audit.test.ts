import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertNoSecrets, runBin } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { plantHome, plantRepository } from '../helpers/audit-trees.js';
import { validateSarif } from '../helpers/sarif.js';

// The built binary, as CI uses it: exit 7 while a static path remains, 0 on a clean tree, SARIF
// that validates, and no planted secret on either stream.
describe('claude-wif audit (built binary)', () => {
  let h: TempHome;
  let secrets: string[];
  beforeAll(() => {
    h = tempHome();
    mkdirSync(join(h.home, 'work', 'clean', 'src'), { recursive: true });
    writeFileSync(join(h.home, 'work', 'clean', 'src', 'main.py'), 'import anthropic\nclient = anthropic.Anthropic()\n');
    secrets = [...plantRepository(join(h.home, 'work')).secrets];
  });
  afterAll(() => h.cleanup());

  it('exits 7 on a planted repository and 0 on a clean one', async () => {
    const cwd = join(h.home, 'work');
    const dirty = await runBin(['audit', 'shop', '--format', 'sarif'], cleanEnv(h.home), { cwd });
    expect(dirty.code).toBe(7);
    expect(validateSarif(JSON.parse(dirty.stdout))).toEqual([]);
    assertNoSecrets(dirty.stdout + dirty.stderr, secrets);
    const clean = await runBin(['audit', 'clean'], cleanEnv(h.home), { cwd });
    expect(clean.stderr).toBe('');
    expect(clean.stdout).toContain('no static credential path found');
    expect(clean.code).toBe(0);
  });

  it('exits 7 for a key in the home directory alone, and names the identity and recipe', async () => {
    const home = plantHome(h.home, h.configDir);
    const r = await runBin(['audit', 'clean'], cleanEnv(h.home), { cwd: join(h.home, 'work') });
    expect(r.code).toBe(7);
    expect(r.stdout).toContain(`${join(h.home, '.bashrc')}:3:`);
    expect(r.stdout).toContain('How to migrate');
    assertNoSecrets(r.stdout + r.stderr, home.secrets);
  });
});
