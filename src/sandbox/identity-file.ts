import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../util/fsx.js';
import type { Sandbox, SandboxConfig } from './server.js';

/** The sandbox with an identity token file kept fresh: what `claude-wif sandbox` and the demo run. */

export interface RunningSandbox {
  sandbox: Sandbox;
  identityFile: string;
  profile: Record<string, unknown>;
  stop(): Promise<void>;
}

/**
 * Starts the sandbox and keeps an identity token file fresh the way kubelet does for a projected
 * token: a new JWT well before the old one expires, so single-use jti never blocks a refresh.
 */
export async function startSandboxWithIdentityFile(opts: {
  port?: number | undefined;
  config?: Partial<SandboxConfig> | undefined;
  tokenLifetime?: number | undefined;
  jwtLifetime?: number | undefined;
  identityDir: string;
  name: string;
}): Promise<RunningSandbox> {
  const { startSandbox } = await import('./server.js');
  const config = opts.config ? structuredClone(opts.config) : {};
  const sandbox = await startSandbox({ port: opts.port ?? 0, config });
  if (opts.tokenLifetime !== undefined) {
    for (const rule of sandbox.config.rules) rule.token_lifetime_seconds = opts.tokenLifetime;
  }
  const jwtLifetime = opts.jwtLifetime ?? 300;
  ensurePrivateDir(opts.identityDir);
  const identityFile = join(opts.identityDir, `${opts.name}.jwt`);
  const rotate = async () => writeFileAtomic(identityFile, `${await sandbox.mint({ lifetimeSeconds: jwtLifetime })}\n`, 0o600);
  await rotate();
  // Rotate often relative to the JWT's life: every exchange then finds a JWT it has never sent.
  const timer = setInterval(() => void rotate().catch(() => {}), Math.max(1, Math.floor(jwtLifetime / 10)) * 1000);
  timer.unref();
  const profile = sandbox.profile({ identityTokenPath: identityFile });
  return {
    sandbox,
    identityFile,
    profile,
    async stop() {
      clearInterval(timer);
      await sandbox.close();
    },
  };
}
