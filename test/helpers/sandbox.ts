import { afterAll, beforeAll } from 'vitest';
import { tempHome, type TempHome } from './env.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/server.js';
import { ensurePrivateDir, writeFileAtomic } from '../../src/util/fsx.js';

export interface SandboxSetup {
  sandbox: Sandbox;
  identityFile: string;
  /** Writes a fresh, never-exchanged JWT into the identity file (what kubelet does on rotation). */
  rotate(opts?: Parameters<Sandbox['mint']>[0]): Promise<string>;
  writeProfile(name: string, extra?: Record<string, unknown>, profileOpts?: Parameters<Sandbox['profile']>[0]): string;
}

/** A sandbox plus a profile and identity file inside the given temporary config dir. */
export async function sandboxWithProfile(configDir: string, opts: SandboxOptions = {}): Promise<SandboxSetup> {
  const sandbox = await startSandbox({ port: 0, ...opts });
  const idDir = join(configDir, '..', 'identity');
  ensurePrivateDir(idDir);
  const identityFile = join(idDir, 'token.jwt');
  const rotate = async (m?: Parameters<Sandbox['mint']>[0]) => {
    const jwt = await sandbox.mint(m);
    writeFileAtomic(identityFile, `${jwt}\n`, 0o600);
    return jwt;
  };
  await rotate();
  return {
    sandbox,
    identityFile,
    rotate,
    writeProfile(name, extra = {}, profileOpts = {}) {
      mkdirSync(join(configDir, 'configs'), { recursive: true });
      const p = join(configDir, 'configs', `${name}.json`);
      writeFileSync(p, JSON.stringify({ ...sandbox.profile({ identityTokenPath: identityFile, ...profileOpts }), ...extra }, null, 2));
      return p;
    },
  };
}

/**
 * One sandbox for a whole test file, with its own temporary config dir: started before the file's
 * tests and closed after them. `assign` receives it (files keep a module-level variable).
 */
export function sharedSandbox(assign: (setup: SandboxSetup) => void): void {
  let home: TempHome | undefined;
  let setup: SandboxSetup | undefined;
  beforeAll(async () => {
    home = tempHome();
    setup = await sandboxWithProfile(home.configDir);
    assign(setup);
  });
  afterAll(async () => {
    await setup?.sandbox.close();
    home?.cleanup();
  });
}
