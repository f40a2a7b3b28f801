// Writes the V8 code caches of the hot entries, dist/claude-wif.cjs.cache and dist/exec.cjs.cache:
// what V8 compiled after one real run of each hot command (`token` and `env`, then `exec` in both
// hot modes, answered from a fresh cache in a throwaway HOME), so the functions each compiles
// lazily are in the cache too. Run by scripts/build.mjs with the node that builds, which is
// normally the node that runs it; bin/claude-wif falls back to a plain compile when V8 rejects a
// cache.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const { wrap } = require('node:module');

const dist = path.join(__dirname, '..', 'dist');

/** Loads a bundle the way bin/claude-wif does (without a cache), for createCachedData afterwards. */
function load(name) {
  const file = path.join(dist, name);
  const script = new vm.Script(wrap(fs.readFileSync(file, 'utf8')), { filename: file });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, file, dist);
  return { file, script, exports: mod.exports };
}

async function main() {
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
    const env = { HOME: home, PATH: process.env.PATH, TMPDIR: home };

    // stdout is /dev/null here: the warm-up output goes nowhere.
    const hot = load('claude-wif.cjs');
    for (const argv of [['token'], ['env']]) {
      if (!hot.exports.answerFromCache(argv, env)) throw new Error(`the warm-up run of ${argv.join(' ')} did not take the hot path`);
    }
    fs.writeFileSync(`${hot.file}.cache`, hot.script.createCachedData());

    const exec = load('exec.cjs');
    for (const mode of ['token', 'sidecar']) {
      const code = await new Promise((resolve, reject) => {
        const host = { loadCore: () => Promise.reject(new Error('the warm-up needs no refresh')), done: resolve };
        if (!exec.exports.startExec(['exec', '--mode', mode, '--', process.execPath, '-e', '0'], env, host)) reject(new Error(`the warm-up run of exec --mode ${mode} did not take the hot path`));
      });
      if (code !== 0) throw new Error(`the warm-up run of exec --mode ${mode} exited ${code}`);
    }
    fs.writeFileSync(`${exec.file}.cache`, exec.script.createCachedData());
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`code cache: ${err && err.message ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
