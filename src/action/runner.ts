import { appendFileSync } from 'node:fs';
import type { Env } from '../config/paths.js';
import { readEnv } from '../config/paths.js';
import type { Writable } from '../util/log.js';
import { WifError } from '../util/errors.js';
import { githubFileCommandBlocks } from '../output/shells.js';

/**
 * The GitHub Actions runner's side of a JavaScript action, as the runner implements it: inputs
 * arrive as INPUT_<NAME> (upper-cased, spaces to underscores, hyphens kept), file commands are
 * appended to the files named by GITHUB_ENV / GITHUB_OUTPUT / GITHUB_STATE / GITHUB_PATH, and the
 * post step sees saved state as STATE_<name>. Workflow commands (`::add-mask::`) go to stdout.
 */
export interface Runner {
  env: Env;
  stdout: Writable;
}

export function getInput(r: Runner, name: string): string | undefined {
  const v = readEnv(r.env, `INPUT_${name.replace(/ /g, '_').toUpperCase()}`)?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function fileCommand(r: Runner, variable: 'GITHUB_ENV' | 'GITHUB_OUTPUT' | 'GITHUB_STATE' | 'GITHUB_PATH'): string {
  const path = readEnv(r.env, variable);
  if (!path) {
    throw new WifError('usage_error', `$${variable} is not set: this program runs as a GitHub Actions step`, {
      hint: 'use it with `uses:` in a workflow; outside Actions run `claude-wif env` or `claude-wif exec` instead',
    });
  }
  return path;
}

/** Output and state names may hold hyphens (`expires-at`), unlike environment variable names. */
function blocks(values: Record<string, string>): string {
  for (const name of Object.keys(values)) {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new WifError('internal_error', `invalid output or state name ${JSON.stringify(name)}`);
  }
  return githubFileCommandBlocks(Object.entries(values).map(([name, value]) => ({ name, value })));
}

export function setOutputs(r: Runner, values: Record<string, string>): void {
  appendFileSync(fileCommand(r, 'GITHUB_OUTPUT'), blocks(values));
}

export function saveState(r: Runner, values: Record<string, string>): void {
  appendFileSync(fileCommand(r, 'GITHUB_STATE'), blocks(values));
}

export function getState(r: Runner, name: string): string | undefined {
  return readEnv(r.env, `STATE_${name}`);
}

export function exportEnvFile(r: Runner): string {
  return fileCommand(r, 'GITHUB_ENV');
}

export function addPath(r: Runner, dir: string): void {
  if (/[\r\n]/.test(dir)) throw new WifError('internal_error', 'a PATH entry cannot contain a line break');
  appendFileSync(fileCommand(r, 'GITHUB_PATH'), `${dir}\n`);
}

/** From this line on the runner replaces the value with *** in every log. */
export function mask(r: Runner, value: string): void {
  r.stdout.write(`::add-mask::${value}\n`);
}

/** Workflow-command escaping of a message (the runner's own rules for %, CR and LF). */
export function commandMessage(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
