// Writes dist/claude-wif.cjs.cache: V8's compiled code for the hot path after one real run of
// each hot command (`token`, `env` answered from a fresh cache in a throwaway HOME). Run by scripts/build.mjs with the
// node that builds, which is normally the node that runs it; bin/claude-wif falls back to a plain
// compile when V8 rejects the cache.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const { wrap } = require('node:module');

const dist = path.join(__dirname, '..', 'dist');
const file = path.join(dist, 'claude-wif.cjs');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'claude-wif-codecache-'));
try {
  const dir = path.join(home, '.config', 'anthropic');
  fs.mkdirSync(path.join(dir, 'configs'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'credentials'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(
    path.join(dir, 'configs', 'default.json'),
    JSON.stringify({ version: '1.0', organization_id: '00000000-0000-4000-8000-000000000000', authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_codecache', identity_token: { source: 'file', path: path.join(home, 'jwt') } } }),
  );
  fs.writeFileSync(
    path.join(dir, 'credentials', 'default.json'),
    JSON.stringify({ version: '1.0', type: 'oauth_token', access_token: 'sk-ant-oat01-code-cache-warmup', expires_at: Math.floor(Date.now() / 1000) + 3600 }),
    { mode: 0o600 },
  );
  const script = new vm.Script(wrap(fs.readFileSync(file, 'utf8')), { filename: file });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, file, dist);
  // stdout is /dev/null here: the warm-up output goes nowhere. Every hot command runs once, so the
  // functions each compiles lazily are in the cache too.
  for (const argv of [['token'], ['env']]) {
    if (!mod.exports.answerFromCache(argv, { HOME: home, PATH: process.env.PATH })) throw new Error(`the warm-up run of ${argv.join(' ')} did not take the hot path`);
  }
  fs.writeFileSync(`${file}.cache`, script.createCachedData());
} finally {
  fs.rmSync(home, { recursive: true, force: true });
}
