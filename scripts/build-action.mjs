// Builds the GitHub Action's bundle, action/claude-wif-action.cjs: the action's main and post
// steps and the whole CLI in one CommonJS file. A JavaScript action runs straight from the
// repository at the tag a workflow names, so this generated file is checked in (like the
// completion scripts); test/e2e/action.test.ts fails when it no longer matches the sources.
// Usage: node scripts/build-action.mjs [outfile]
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const outfile = process.argv[2] ?? 'action/claude-wif-action.cjs';
await build({
  entryPoints: ['src/action/entry.ts'],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  // The keyring binding is native and optional: the action uses the file cache when it is absent.
  external: ['@napi-rs/keyring'],
  define: { __CLAUDE_WIF_VERSION__: JSON.stringify(pkg.version), 'import.meta.url': '__cwif_import_meta_url' },
  banner: { js: "const __cwif_import_meta_url=require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
