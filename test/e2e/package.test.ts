import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';

// The package as a user gets it: `npm pack`, then a global install of the tarball into an empty
// prefix, offline (tests never reach the registry). The optional keyring binding cannot be fetched
// offline, so its size is taken from this checkout's node_modules and added to the measurement:
// the figure is what an online install weighs (issue 13 targets ≤ 5 MB).

const LIMIT_BYTES = 5 * 1024 * 1024;

function duBytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + duBytes(join(path, name)), 0);
}

function npm(args: string[], env: Record<string, string>, cwd: string) {
  const r = spawnSync('npm', args, { env, cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r;
}

let h: TempHome;
let env: Record<string, string>;
let tarball: string;
let installed: string;
let bin: string;
let installOutput: string;
beforeAll(() => {
  h = tempHome();
  env = cleanEnv(h.home, { npm_config_cache: join(h.home, '.npm'), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' });
  // dist/ is already built by `npm test`'s pretest; --ignore-scripts keeps `prepack` from rebuilding
  // it under the feet of other test files reading it concurrently.
  const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', h.home], env, ROOT);
  const info = JSON.parse(packed.stdout) as { filename: string }[];
  tarball = join(h.home, info[0]!.filename);
  const prefix = join(h.home, 'prefix');
  const r = npm(['install', '-g', '--offline', '--prefix', prefix, tarball], env, h.home);
  installOutput = `${r.stdout}\n${r.stderr}`;
  installed = join(prefix, 'lib', 'node_modules', 'claude-wif');
  bin = join(prefix, 'bin', 'claude-wif');
}, 180_000);
afterAll(() => h?.cleanup());

describe('the npm package', () => {
  it('installs globally from the tarball in at most 5 MB, counting the optional keyring binding', () => {
    const own = duBytes(join(h.home, 'prefix'));
    let keyring = 0;
    if (!existsSync(join(installed, 'node_modules', '@napi-rs', 'keyring'))) {
      const scope = join(ROOT, 'node_modules', '@napi-rs');
      for (const name of readdirSync(scope)) if (name.startsWith('keyring')) keyring += duBytes(join(scope, name));
    }
    const total = own + keyring;
    console.log(`installed size: ${(own / 1024).toFixed(0)} KiB package + ${(keyring / 1024).toFixed(0)} KiB keyring binding = ${(total / 1024 / 1024).toFixed(2)} MiB`);
    expect(total).toBeLessThanOrEqual(LIMIT_BYTES);
    // Only the optional keyring may come along: everything else is bundled into dist/.
    const modules = join(installed, 'node_modules');
    const deps = existsSync(modules) ? readdirSync(modules).filter((n) => n !== '.package-lock.json') : [];
    expect(deps.filter((n) => n !== '@napi-rs')).toEqual([]);
  });

  it('ships a LICENSE, the bundles and no source maps; runs nothing at install time', () => {
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toMatch(/MIT License/);
    const dist = readdirSync(join(installed, 'dist'));
    expect(dist).toContain('claude-wif.cjs');
    expect(dist).toContain('cli.mjs');
    expect(dist.filter((f) => f.endsWith('.map'))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { scripts?: Record<string, string>; dependencies?: Record<string, string> };
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(pkg.scripts?.[hook]).toBeUndefined();
    expect(pkg.dependencies ?? {}).toEqual({});
    // npm 11 warns about packages whose install-time scripts are not allowed; there must be none.
    expect(installOutput).not.toMatch(/install-scripts|allowScripts/);
  });

  it('the installed binary works, and the aws source names the install command for the AWS SDK', () => {
    const version = spawnSync(bin, ['--version'], { env, encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);

    const aws = spawnSync(bin, ['token', '--identity-source', 'aws'], {
      env: {
        ...env,
        ANTHROPIC_CONFIG_DIR: h.configDir,
        ANTHROPIC_FEDERATION_RULE_ID: 'fdrl_01abc',
        ANTHROPIC_ORGANIZATION_ID: '00000000-0000-0000-0000-000000000000',
        AWS_REGION: 'us-east-1',
        CLAUDE_WIF_CACHE_DIR: h.cacheDir,
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(aws.status).toBe(3);
    expect(aws.stderr).toContain('the AWS SDK is not installed');
    expect(aws.stderr).toContain('npm install -g @aws-sdk/credential-provider-node @smithy/signature-v4 @smithy/core');
  });
});
