import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandContext } from '../context.js';
import { resolveCacheDir, resolveConfigDir, validateProfileName, profilePath } from '../../config/paths.js';
import { startSandboxWithIdentityFile } from '../../sandbox/identity-file.js';
import type { SandboxConfig } from '../../sandbox/server.js';
import { ensurePrivateDir, writeFileAtomic } from '../../util/fsx.js';
import { WifError } from '../../util/errors.js';
import { DEFAULT_AUDIENCE, MAX_MAX_JWT_LIFETIME_SECONDS } from '../../protocol.js';

export interface SandboxCommandOptions {
  port?: string;
  config?: string;
  tokenLifetime?: string;
  jwtLifetime?: string;
  writeProfile?: string;
  activate?: boolean;
  demo?: boolean;
  /** Also play this platform's identity side (github-actions, gitlab, kubernetes). */
  platform?: string;
  /** Write the platform's environment here as sh exports (0600). */
  writeEnv?: string;
}

function intOption(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new WifError('usage_error', `${name} ${JSON.stringify(value)} must be a whole number between ${min} and ${max}`);
  return n;
}

/** `claude-wif sandbox`: runs the local WIF emulator until interrupted, or the demo with --demo. */
export async function runSandbox(ctx: CommandContext, opts: SandboxCommandOptions): Promise<number> {
  if (opts.demo) return (await import('./demo.js')).runDemo(ctx);
  const port = intOption('--port', opts.port, 0, 65535);
  const tokenLifetime = intOption('--token-lifetime', opts.tokenLifetime, 60, 86400);
  const jwtLifetime = intOption('--jwt-lifetime', opts.jwtLifetime, 10, MAX_MAX_JWT_LIFETIME_SECONDS);
  let config: Partial<SandboxConfig> | undefined;
  if (opts.config) {
    const { loadSandboxConfig } = await import('../../sandbox/server.js');
    try {
      config = await loadSandboxConfig(opts.config);
    } catch (err) {
      throw new WifError('config_invalid', `sandbox config ${opts.config}: ${(err as Error).message}`);
    }
  }
  if (opts.activate && !opts.writeProfile) throw new WifError('usage_error', '--activate needs --write-profile <name>');
  const { PLATFORMS } = await import('../../sandbox/platforms.js');
  const platform = opts.platform as (typeof PLATFORMS)[number] | undefined;
  if (platform !== undefined && !PLATFORMS.includes(platform)) {
    throw new WifError('usage_error', `--platform ${JSON.stringify(opts.platform)} is not one of ${PLATFORMS.join(', ')}`);
  }
  if (opts.writeEnv && !platform) throw new WifError('usage_error', '--write-env needs --platform <name>');

  const configDir = resolveConfigDir(ctx.io.env, ctx.global.configDir).value;
  let identityDir: string;
  let tempDir: string | undefined;
  const name = opts.writeProfile ?? 'sandbox';
  if (opts.writeProfile) {
    validateProfileName(opts.writeProfile, '--write-profile');
    identityDir = join(resolveCacheDir(ctx.io.env).value, 'sandbox');
  } else {
    tempDir = mkdtempSync(join(tmpdir(), 'claude-wif-sandbox-'));
    identityDir = tempDir;
  }
  const running = await startSandboxWithIdentityFile({ port, config, tokenLifetime, jwtLifetime, identityDir, name });
  let setup: import('../../sandbox/platforms.js').PlatformSetup | undefined;
  if (platform) {
    const { setupPlatform } = await import('../../sandbox/platforms.js');
    const dir = join(identityDir, platform);
    ensurePrivateDir(dir);
    setup = await setupPlatform(platform, running.sandbox, { dir, audience: DEFAULT_AUDIENCE, jwtLifetime, write: (path, text) => writeFileAtomic(path, `${text}\n`, 0o600) });
    // A rule for this platform's subjects (the Console rule a user would create for it), unless --config chose the rules.
    if (!opts.config) for (const rule of running.sandbox.config.rules) rule.match = { ...rule.match, subject_prefix: setup.subjectPrefix };
    // The profile reads the platform's identity the way a job or pod would, not the sandbox's own file.
    const auth = { ...(running.profile['authentication'] as Record<string, unknown>) };
    delete auth['identity_token'];
    running.profile['authentication'] = auth;
    running.profile['claude_wif'] = { identity: { source: setup.identity.source, ...setup.identity.options } };
    if (opts.writeEnv) {
      const { renderEnv } = await import('../../output/shells.js');
      writeFileAtomic(opts.writeEnv, renderEnv('sh', Object.entries(setup.env).map(([n, value]) => ({ name: n, value }))), 0o600);
    }
  }
  let written: string | undefined;
  if (opts.writeProfile) {
    written = profilePath(configDir, opts.writeProfile);
    ensurePrivateDir(join(configDir, 'configs'));
    writeFileAtomic(written, `${JSON.stringify(running.profile, null, 2)}\n`, 0o600);
    if (opts.activate) writeFileSync(join(configDir, 'active_config'), `${opts.writeProfile}\n`, { mode: 0o600 });
  }
  const s = running.sandbox;
  ctx.io.stdout.write(
    `${JSON.stringify(
      {
        url: s.url,
        issuer: s.issuerUrl,
        jwks_uri: `${s.issuerUrl}/.well-known/jwks.json`,
        token_endpoint: `${s.url}/v1/oauth/token`,
        identity_token_file: running.identityFile,
        ...(written ? { profile_path: written } : {}),
        profile: running.profile,
        ...(setup ? { platform: { name: setup.platform, env: setup.env, ...(opts.writeEnv ? { env_file: opts.writeEnv } : {}) } } : {}),
      },
      null,
      2,
    )}\n`,
  );
  const use = written ? (opts.activate ? 'claude-wif token' : `claude-wif --profile ${opts.writeProfile} token`) : `save "profile" above as ${join(configDir, 'configs', 'sandbox.json')}, then: claude-wif --profile sandbox token`;
  ctx.log.info(`sandbox running at ${s.url} (issuer ${s.issuerUrl}); identity token rotates in ${running.identityFile}`);
  if (setup) ctx.log.info(`playing ${setup.platform}: ${opts.writeEnv ? `\`. ${opts.writeEnv}\` in a shell gives it` : 'the "platform.env" above is'} the environment of a ${setup.platform === 'kubernetes' ? 'pod' : 'job'} there`);
  ctx.log.info(`try: ${use}   — Ctrl-C to stop`);

  await new Promise<void>((resolve) => {
    const done = () => {
      ctx.io.proc.signals.off('SIGINT', done);
      ctx.io.proc.signals.off('SIGTERM', done);
      resolve();
    };
    ctx.io.proc.signals.on('SIGINT', done);
    ctx.io.proc.signals.on('SIGTERM', done);
  });
  setup?.stop();
  await running.stop();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  ctx.log.info('sandbox stopped');
  return 0;
}
