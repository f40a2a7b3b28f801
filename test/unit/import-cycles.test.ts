import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles, importGraph } from '../helpers/import-graph.js';

const SRC = resolve(import.meta.dirname, '../../src');

describe('import graph of src/', () => {
  it('has no runtime import cycle (type-only imports aside)', () => {
    expect(importCycles(importGraph(SRC), SRC)).toEqual([]);
  });

  it('the checker finds static, re-exported and dynamic cycles, and ignores type-only imports', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wif-cycles-'));
    try {
      const files: Record<string, string> = {
        'static-a.ts': "import { b } from './static-b.js';\nexport const a = () => b;\n",
        'static-b.ts': "import { a } from './static-a.js';\nexport const b = () => a;\n",
        'reexport-a.ts': "export { y } from './reexport-b.js';\nexport const x = 1;\n",
        'reexport-b.ts': "import { x } from './reexport-a.js';\nexport const y = x;\n",
        'dynamic-a.ts': "export const load = () => import('./dynamic-b.js');\n",
        'dynamic-b.ts': "import { load } from './dynamic-a.js';\nexport const again = load;\n",
        'typed-a.ts': "import type { T } from './typed-b.js';\nexport type U = T;\nexport const u = 1;\n",
        'typed-b.ts': "import { type U } from './typed-a.js';\nexport type { U } from './typed-a.js';\nexport type T = U | string;\n",
        'side-a.ts': "import './side-b.js';\n",
        'side-b.ts': "import { nothing } from 'node:fs';\nimport './side-a.js';\nexport const nothing2 = nothing;\n",
      };
      for (const [name, text] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, name)), { recursive: true });
        writeFileSync(join(dir, name), text);
      }
      expect(importCycles(importGraph(dir), dir)).toEqual(
        expect.arrayContaining([
          ['dynamic-a.ts', 'dynamic-b.ts'],
          ['reexport-a.ts', 'reexport-b.ts'],
          ['side-a.ts', 'side-b.ts'],
          ['static-a.ts', 'static-b.ts'],
        ]),
      );
      expect(importCycles(importGraph(dir), dir)).toHaveLength(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
