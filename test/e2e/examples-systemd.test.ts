import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { assertNoSecrets, ROOT } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { gcpPeer, type Peer } from '../helpers/platforms.js';
import { spawnBin, type Spawned } from './exec-helpers.js';

// examples/systemd as written: the unit's Environment= and ExecStart=, with the directories
// systemd would create (RuntimeDirectory, StateDirectory) and the read-only profile directory
// re-rooted under a temporary directory, the GCP metadata server played by a local peer and the
// sandbox standing in for Anthropic. The agent must keep its token cache in the StateDirectory
// (never writing under the read-only /etc/claude-wif), and a restart must reuse that cache.

const unit = readFileSync(join(ROOT, 'examples', 'systemd', 'claude-wif-agent.service'), 'utf8');
const kv = (key: string): string[] => unit.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

let sandbox: Sandbox;
let gcp: Peer;
let h: TempHome;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  // GCP identity tokens carry the service account's numeric id as their subject.
  for (const rule of sandbox.config.rules) rule.match = { ...rule.match, subject_prefix: '112233445566778899000' };
  gcp = await gcpPeer((o) => sandbox.mint(o));
  h = tempHome();
});
afterAll(async () => {
  await gcp?.close();
  await sandbox?.close();
  h?.cleanup();
});

function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      out.push(`${p} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe('examples/systemd/claude-wif-agent.service', () => {
  it('caches under the StateDirectory, never writes to the read-only profile directory, and a restart makes no new exchange', async () => {
    const root = join(h.home, 'host');
    const reroot = (s: string): string => s.replace(/(^|[\s="])\/(etc|var|run)\//g, `$1${root}/$2/`);
    const configDir = reroot(kv('ReadOnlyPaths')[0]!);
    const stateDir = join(root, 'var', 'lib', kv('StateDirectory')[0]!);
    const runtimeDir = join(root, 'run', kv('RuntimeDirectory')[0]!);
    mkdirSync(join(configDir, 'configs'), { recursive: true });
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });

    const exec = kv('ExecStart')[0]!.split(/\s+/).slice(1).map(reroot);
    const name = exec[exec.indexOf('--profile') + 1]!;
    const profile = JSON.parse(readFileSync(join(ROOT, 'examples', 'systemd', `${name}.json`), 'utf8')) as Record<string, any>;
    profile['organization_id'] = sandbox.config.organization_id;
    profile['authentication']['federation_rule_id'] = 'fdrl_sandbox';
    profile['authentication']['service_account_id'] = 'svac_sandbox';
    profile['authentication']['credentials_path'] = reroot(profile['authentication']['credentials_path']);
    // The one difference from production: the sandbox instead of api.anthropic.com.
    profile['base_url'] = sandbox.url;
    writeFileSync(join(configDir, 'configs', `${name}.json`), JSON.stringify(profile));
    // The health port is taken by the OS, not 8081, so parallel test runs never collide.
    exec[exec.indexOf('--health') + 1] = '127.0.0.1:0';

    const unitEnv = Object.fromEntries(kv('Environment').map((e) => e.split('=', 2).map(reroot) as [string, string]));
    const env = cleanEnv(stateDir, { ...unitEnv, GCE_METADATA_HOST: `127.0.0.1:${gcp.port}` });
    const before = snapshot(configDir);

    const start = async (): Promise<Spawned> => {
      const a = spawnBin(exec, env);
      await a.waitFor(() => a.stdout().includes('\n') || a.child.exitCode !== null, 'the agent to start', 20_000);
      expect(a.child.exitCode, a.stderr()).toBeNull();
      return a;
    };
    const stop = async (a: Spawned): Promise<void> => {
      a.child.kill(kv('KillSignal')[0] as NodeJS.Signals);
      expect((await a.exited).code).toBe(0);
    };

    const exchanges0 = sandbox.exchanges.length;
    const first = await start();
    const info = JSON.parse(first.stdout().split('\n')[0]!) as { health: string };
    expect((await fetch(`${info.health}/readyz`)).status).toBe(200);
    await stop(first);
    expect(sandbox.exchanges.length).toBe(exchanges0 + 1);
    const token = (sandbox.exchanges.at(-1)!.response as { access_token: string }).access_token;
    expect(JSON.parse(readFileSync(join(stateDir, 'credentials', `${name}.json`), 'utf8'))['access_token']).toBe(token);
    expect(first.stderr()).not.toMatch(/every call will exchange again|could not write/);

    const second = await start();
    await stop(second);
    expect(sandbox.exchanges.length).toBe(exchanges0 + 1);
    expect(snapshot(configDir)).toEqual(before);
    assertNoSecrets(first.stderr() + second.stderr(), [token]);
  });
});
