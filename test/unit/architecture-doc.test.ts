// docs/architecture.md stays true to the layout: every source file it names exists, and so does
// every module of the layout block; the README links it.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const DOC = readFileSync(resolve(ROOT, 'docs/architecture.md'), 'utf8');

/** A file named relative to the repository or to src/. */
const exists = (name: string) => existsSync(resolve(ROOT, name)) || existsSync(resolve(ROOT, 'src', name));

describe('docs/architecture.md', () => {
  it('names only files that exist', () => {
    const named = new Set<string>();
    for (const m of DOC.matchAll(/`([\w./-]+\.(?:ts|mjs|cjs|md))`/g)) named.add(m[1]!);
    for (const m of DOC.matchAll(/\bsrc\/[\w./-]+\.ts\b/g)) named.add(m[0]);
    // `mode-<name>.ts`-style placeholders are instructions, not files.
    const missing = [...named].filter((n) => !n.includes('<') && !exists(n));
    expect(named.size).toBeGreaterThan(30);
    expect(missing).toEqual([]);
  });

  it('the layout block lists files that exist in the directory it puts them under', () => {
    const block = /## The layout\n\n```\n([\s\S]*?)```/.exec(DOC)![1]!;
    let dir = '';
    const missing: string[] = [];
    for (const line of block.split('\n')) {
      const head = /^ {2}(\w+)\/\s/.exec(line);
      if (head) dir = head[1]!;
      else if (/^ {2}\S+\.ts\s/.test(line)) dir = '';
      for (const m of line.matchAll(/([\w-]+(?:\/[\w.-]+)?\.ts)\b/g)) {
        const f = m[1]!;
        if (!existsSync(resolve(ROOT, 'src', dir, f)) && !existsSync(resolve(ROOT, 'src', f))) missing.push(`${dir}/${f}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('the README links it', () => {
    expect(readFileSync(resolve(ROOT, 'README.md'), 'utf8')).toContain('](docs/architecture.md)');
  });
});
