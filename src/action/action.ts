import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { profilePath, readEnv, resolveConfigDir, type Env } from '../config/paths.js';
import { buildProfile, readRawProfile, validateForWrite, writeProfileFile } from '../config/write-profile.js';
import { getAccessToken } from '../core/credentials.js';
import { resolvePlan } from '../core/resolve.js';
import { DEFAULT_AUDIENCE } from '../protocol.js';
import { credentialEnv, TARGETS, type Target } from '../output/credential-env.js';
import { renderGithubEnvFile } from '../output/shells.js';
import { run as runCli } from '../cli/main.js';
import { processPort, type IO } from '../cli/io.js';
import { systemClock, type Clock } from '../util/clock.js';
import { WifError } from '../util/errors.js';
import { createLogger, type Writable } from '../util/log.js';
import { redact } from '../util/redact.js';
import { userAgent } from '../version.js';
import { addPath, commandMessage, exportEnvFile, getInput, getState, mask, saveState, setOutputs, type Runner } from './runner.js';

/** What the action needs of its process: the runner's environment, streams, and where it runs from. */
export interface ActionIO {
  env: Env;
  stdout: Writable;
  stderr: Writable;
  clock?: Clock;
  cwd: string;
  /** The node binary the runner started this action with (process.execPath). */
  node: string;
  /** The bundled CLI (action/claude-wif-action.cjs), which the `claude-wif` put on PATH runs. */
  cli: string;
}

/** The profile the action writes when the workflow names none: in a directory of its own, so nothing of the user's is touched. */
export const ACTION_PROFILE = 'github-actions';

const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function required(r: Runner, name: string): string {
  const v = getInput(r, name);
  if (v === undefined) throw new WifError('usage_error', `the input \`${name}\` is required`, { hint: `add \`${name}: …\` under \`with:\` in the step that uses this action` });
  return v;
}

/**
 * The main step: write a profile whose identity is the job's own Actions OIDC token, exchange it,
 * export the same variables as `claude-wif env --format github` (token masked first), set
 * outputs, and put `claude-wif` on PATH, bound to that profile, for later steps.
 */
export async function actionMain(io: ActionIO): Promise<void> {
  const r: Runner = { env: io.env, stdout: io.stdout };
  const organizationId = required(r, 'organization-id');
  const federationRuleId = required(r, 'federation-rule-id');
  const target = (getInput(r, 'target') ?? 'sdk') as Target;
  if (!TARGETS.includes(target)) throw new WifError('usage_error', `the input \`target\` must be one of ${TARGETS.join(', ')} (got ${JSON.stringify(target)})`);
  if (!readEnv(io.env, 'ACTIONS_ID_TOKEN_REQUEST_URL') || !readEnv(io.env, 'ACTIONS_ID_TOKEN_REQUEST_TOKEN')) {
    throw new WifError('identity_unavailable', 'the job cannot request a GitHub OIDC token: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set', {
      hint: 'give the job (or the workflow) `permissions: id-token: write`; pull requests from forks never get it',
    });
  }

  // Everything the action writes lives under one private directory in RUNNER_TEMP (emptied by the
  // runner after the job), except a named profile, which goes where later `--profile` runs find it.
  const base = readEnv(io.env, 'RUNNER_TEMP') ?? tmpdir();
  mkdirSync(base, { recursive: true });
  const root = mkdtempSync(join(base, 'claude-wif-'));
  chmodSync(root, 0o700);
  const named = getInput(r, 'profile');
  const profile = named ?? ACTION_PROFILE;
  const configDir = named ? resolveConfigDir(io.env).value : join(root, 'config');
  const cacheDir = join(root, 'cache');
  // Saved before anything can fail below: the post step cleans up whatever was created.
  saveState(r, { root, config_dir: configDir, profile, cache_dir: cacheDir });

  const path = profilePath(configDir, profile);
  const doc = buildProfile(readRawProfile(path), {
    organization_id: organizationId,
    federation_rule_id: federationRuleId,
    service_account_id: getInput(r, 'service-account-id') ?? null,
    workspace_id: getInput(r, 'workspace-id') ?? null,
    base_url: getInput(r, 'base-url') ?? null,
    identity: { source: 'github-actions', options: { audience: getInput(r, 'audience') ?? DEFAULT_AUDIENCE } },
  });
  validateForWrite(doc, path);
  writeProfileFile(path, doc);

  const env: Env = { ...io.env, CLAUDE_WIF_CACHE_DIR: cacheDir };
  const clock = io.clock ?? systemClock;
  const log = createLogger(io.stderr, readEnv(io.env, 'RUNNER_DEBUG') === '1' ? 'debug' : 'info');
  const plan = resolvePlan({ env, cwd: io.cwd, profile, configDir });
  const token = await getAccessToken(plan, { minTtl: 0 }, { env, clock, log, userAgent: userAgent() });

  mask(r, token.token);
  const vars = credentialEnv(token, plan.baseUrl.value, target, io.env);
  appendFileSync(exportEnvFile(r), renderGithubEnvFile(vars));

  const bin = join(root, 'bin');
  mkdirSync(bin, { mode: 0o700 });
  const fixed = ['--config-dir', configDir, '--profile', profile];
  // The user's own `--profile`/`--config-dir` come later on the line and win (the last value counts).
  writeFileSync(join(bin, 'claude-wif'), `#!/bin/sh\nCLAUDE_WIF_CACHE_DIR="\${CLAUDE_WIF_CACHE_DIR:-${cacheDir.replace(/["\\$`]/g, '\\$&')}}" exec ${[io.node, io.cli, ...fixed].map(shQuote).join(' ')} "$@"\n`, { mode: 0o755 });
  writeFileSync(join(bin, 'claude-wif.cmd'), `@echo off\r\nif not defined CLAUDE_WIF_CACHE_DIR set "CLAUDE_WIF_CACHE_DIR=${cacheDir}"\r\n${[io.node, io.cli, ...fixed].map((a) => `"${a}"`).join(' ')} %*\r\n`, { mode: 0o755 });
  addPath(r, bin);

  const expiresAt = token.expiresAt ?? 0;
  setOutputs(r, {
    'expires-at': String(expiresAt),
    expiration: new Date(expiresAt * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    profile,
    'config-dir': configDir,
  });
  log.info(`exported ${vars.filter((v) => v.value !== null).map((v) => v.name).join(', ')} for the following steps (token valid until ${new Date(expiresAt * 1000).toISOString()})`);
  log.info(`claude-wif is on PATH with profile "${profile}": long steps can run \`claude-wif exec -- claude …\` to stay authenticated`);
}

/** The post step: remove every token the job cached, then the action's own directory. */
export async function actionPost(io: ActionIO): Promise<void> {
  const r: Runner = { env: io.env, stdout: io.stdout };
  const root = getState(r, 'root');
  const configDir = getState(r, 'config_dir');
  const profile = getState(r, 'profile');
  const cacheDir = getState(r, 'cache_dir');
  if (!root || !configDir || !profile || !cacheDir) {
    io.stderr.write('claude-wif: nothing to clean up (the main step did not start)\n');
    return;
  }
  let stderr = '';
  const cliIO: IO = {
    stdout: { write: () => true },
    stderr: { write: (s: string) => ((stderr += s), true) },
    env: { ...io.env, CLAUDE_WIF_CACHE_DIR: cacheDir },
    cwd: io.cwd,
    clock: io.clock ?? systemClock,
    stdoutIsTTY: false,
    stderrIsTTY: false,
    stdinIsTTY: false,
    proc: processPort(),
  };
  const code = existsSync(configDir) ? await runCli(['--config-dir', configDir, '--profile', profile, 'cache', 'clear', '--all'], cliIO) : 0;
  rmSync(root, { recursive: true, force: true });
  if (code !== 0) throw new WifError('internal_error', `could not remove the cached tokens: ${stderr.trim()}`);
  io.stderr.write('claude-wif: removed the cached tokens and the action\'s temporary directory\n');
}

/** Runs a step the way the runner expects: failures as an `::error::` annotation and exit status 1. */
export async function runStep(step: (io: ActionIO) => Promise<void>, io: ActionIO): Promise<number> {
  try {
    await step(io);
    return 0;
  } catch (err) {
    const e = err instanceof WifError ? err : new WifError('internal_error', (err as Error)?.message ?? String(err));
    const text = redact(`${e.message}${e.hint ? ` — fix: ${e.hint}` : ''} (${e.code})`);
    io.stdout.write(`::error title=claude-wif::${commandMessage(text)}\n`);
    return 1;
  }
}
