// Builds the self-contained, minified bundles in dist/:
//   claude-wif.cjs  the hot path: `token` and `env` answered from a fresh cache
//   exec.cjs        the hot exec entry: `exec --mode sidecar|token` from a fresh cache, running the
//                   same exec session as the full CLI (src/cli/hot-exec.ts)
//   cli.mjs         the full CLI (commander, every command, the sandbox), an ES module that
//                   bin/claude-wif imports only when no hot entry answers
//   csi-grpc.mjs    gRPC for `claude-wif csi-provider` only (see below)
// The hot entries are CommonJS, because an ES module entry starts ~6 ms slower, and run from a V8
// code cache written below (bench/startup.mjs measures them). Separate bundles rather than
// esbuild's code splitting: splitting scatters a hot path over many small chunks, and every extra
// module costs start-up time. The two hot entries share source, not modules: each is whole.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Outputs are overwritten in place rather than deleting dist/ first: a concurrent reader (a test
// run, another build) must never find the directory half-empty. Only leftovers of older layouts go.
rmSync(new URL('../dist/chunks', import.meta.url), { recursive: true, force: true });
const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  // @napi-rs/keyring ships a native binary: it stays a runtime dependency, never bundled.
  external: ['@napi-rs/keyring'],
  define: { __CLAUDE_WIF_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
};
// The hot entries run inside vm.Script (the code cache), where a real import() is not available:
// esbuild turns dynamic imports into require() there.
const hot = { ...common, format: 'cjs', supported: { 'dynamic-import': false } };
await build({ ...hot, entryPoints: ['src/cli/hot.ts'], outfile: 'dist/claude-wif.cjs' });
await build({ ...hot, entryPoints: ['src/cli/hot-exec.ts'], outfile: 'dist/exec.cjs' });
rmSync(new URL('../dist/claude-wif.mjs', import.meta.url), { force: true });
rmSync(new URL('../dist/csi-grpc.mjs.map', import.meta.url), { force: true });
rmSync(new URL('../dist/claude-wif.mjs.map', import.meta.url), { force: true });
// gRPC for `claude-wif csi-provider` only: src/csi/grpc.ts (grpc-js, proto-loader, protobufjs) is
// its own file, dist/csi-grpc.mjs, left external to dist/cli.mjs so that no other command reads or
// parses ~0.4 MB of gRPC. Vendor code only, so no source map (it would add 0.5 MB to the package).
const csiGrpcExternal = {
  name: 'csi-grpc-external',
  setup(b) {
    b.onResolve({ filter: /^\.\/grpc\.js$/ }, (args) => (/[\\/]src[\\/]csi$/.test(args.resolveDir) ? { path: './csi-grpc.mjs', external: true } : undefined));
  },
};
await build({
  ...common,
  entryPoints: ['src/csi/grpc.ts'],
  outfile: 'dist/csi-grpc.mjs',
  sourcemap: false,
  banner: { js: "import{createRequire as __cwifCR}from'node:module';const require=__cwifCR(import.meta.url);" },
});
// prom-client for the agent's and proxy's /metrics only: src/audit/prom.ts is dist/metrics-prom.mjs,
// external to dist/cli.mjs for the same reason (~70 KB that no other command needs).
const promExternal = {
  name: 'prom-external',
  setup(b) {
    b.onResolve({ filter: /^\.\/prom\.js$/ }, (args) => (/[\\/]src[\\/]audit$/.test(args.resolveDir) ? { path: './metrics-prom.mjs', external: true } : undefined));
  },
};
await build({
  ...common,
  entryPoints: ['src/audit/prom.ts'],
  outfile: 'dist/metrics-prom.mjs',
  sourcemap: false,
  banner: { js: "import{createRequire as __cwifCR}from'node:module';const require=__cwifCR(import.meta.url);" },
});
await build({
  ...common,
  plugins: [csiGrpcExternal, promExternal],
  entryPoints: ['src/cli/full.ts'],
  outfile: 'dist/cli.mjs',
  // Some bundled CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import{createRequire as __cwifCR}from'node:module';const require=__cwifCR(import.meta.url);" },
});

// V8 code cache for the hot entries: run each once against a throwaway profile and cache (so the
// functions it compiles lazily are in the cache too), then save what V8 compiled. bin/claude-wif
// loads it; a cache V8 rejects (other node version, other flags) only costs the normal compile.
{
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [new URL('./code-cache.cjs', import.meta.url).pathname], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) console.warn('warning: no V8 code cache for the hot path (start-up is a little slower)');
}
