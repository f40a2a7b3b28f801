// One home per concept (issue 10 item 4): protocol values are spelled only in src/protocol.ts, paths
// under the cache directory are made only in src/cache/layout.ts, and pid liveness is asked only in
// src/util/pid.ts. String literals are checked through the TypeScript parser, so comments and
// prose that mention a value are fine; a literal that *is* the value elsewhere is a second home.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as protocol from '../../src/protocol.js';

const SRC = resolve(import.meta.dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface Hit {
  file: string;
  line: number;
  text: string;
}

/** Every node of every src file for which `match` says yes, as file:line. */
function find(match: (node: ts.Node, source: ts.SourceFile) => string | undefined, except: string[]): Hit[] {
  const hits: Hit[] = [];
  for (const file of files(SRC)) {
    const rel = relative(SRC, file);
    if (except.includes(rel)) continue;
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node) => {
      const text = match(node, source);
      if (text !== undefined) hits.push({ file: rel, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, text });
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return hits;
}

const literal = (node: ts.Node): string | undefined => (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) ? node.text : undefined);

describe('one home per concept', () => {
  it('protocol values are spelled only in src/protocol.ts', () => {
    const values = new Set<string>((Object.values(protocol) as unknown[]).filter((v): v is string => typeof v === 'string'));
    expect(values.size).toBeGreaterThan(5);
    const hits = find((node) => {
      const t = literal(node);
      return t !== undefined && values.has(t) ? t : undefined;
    }, ['protocol.ts']);
    expect(hits).toEqual([]);
  });

  it('paths under the cache directory are made only in src/cache/layout.ts', () => {
    const SUBDIRS = new Set(['tokens', 'ledger', 'locks']);
    const hits = find((node) => {
      if (!ts.isCallExpression(node) || node.expression.getText() !== 'join') return undefined;
      const sub = node.arguments.map(literal).find((a) => a !== undefined && SUBDIRS.has(a));
      return sub;
    }, ['cache/layout.ts']);
    expect(hits).toEqual([]);
  });

  it('whether a pid is alive is asked only in src/util/pid.ts', () => {
    const hits = find((node, source) => {
      if (!ts.isCallExpression(node) || node.expression.getText(source) !== 'process.kill') return undefined;
      const sig = node.arguments[1];
      return sig && sig.getText(source) === '0' ? node.getText(source) : undefined;
      // cli/io.ts: the injected process port's kill(), which forwards signal 0 as it is.
    }, ['util/pid.ts', 'cli/io.ts']);
    expect(hits).toEqual([]);
  });
});
