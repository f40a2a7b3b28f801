import { readEnv, type Env } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { audienceMatches, decodePayload } from './common.js';
import { audienceOf, optionString } from './options.js';
import type { IdentitySource } from './source.js';

/** GitLab's deprecated job JWTs (removed in GitLab 17.0); their audience is GitLab itself, never ours. */
const LEGACY = new Set(['CI_JOB_JWT', 'CI_JOB_JWT_V1', 'CI_JOB_JWT_V2']);

const ID_TOKENS_FIX = 'add `id_tokens: { ANTHROPIC_ID_TOKEN: { aud: https://api.anthropic.com } }` to the job in .gitlab-ci.yml, and name it with "variable" in the profile\'s claude_wif.identity if there are several';

export interface GitlabChoice {
  variable?: string;
  /** How it was chosen, or why none could be. */
  reason: string;
  candidates: string[];
}

/**
 * The id_tokens variable to use when none is configured. GitLab lets a job name its ID tokens
 * freely, so look for variables holding a JWT issued by this GitLab (iss = CI_SERVER_URL):
 * exactly one wins; among several, the only one whose aud holds the audience wins; otherwise it
 * is ambiguous and the user must name one (never a guess: a wrong identity is a silent 401).
 */
export function chooseGitlabVariable(env: Env, audience: string): GitlabChoice {
  const server = readEnv(env, 'CI_SERVER_URL')?.replace(/\/+$/, '');
  const candidates: string[] = [];
  const matching: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (LEGACY.has(name) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
    const payload = decodePayload(env[name]);
    if (!payload) continue;
    const iss = typeof payload['iss'] === 'string' ? payload['iss'].replace(/\/+$/, '') : undefined;
    if (server ? iss !== server : !iss) continue;
    candidates.push(name);
    if (audienceMatches(payload, audience)) matching.push(name);
  }
  if (candidates.length === 1) return { variable: candidates[0], reason: `${candidates[0]} holds the only ID token issued by ${server ?? 'GitLab'}`, candidates };
  if (matching.length === 1) return { variable: matching[0], reason: `${matching[0]} is the only ID token with audience ${audience}`, candidates };
  if (candidates.length === 0) return { reason: `no variable holds an ID token issued by ${server ?? 'GitLab'}`, candidates };
  return { reason: `several variables hold ID tokens (${candidates.join(', ')}) and ${matching.length ? `${matching.length} have` : 'none has'} audience ${audience}`, candidates };
}

/**
 * GitLab CI `id_tokens`: the JWT is in a job variable. One token per job, it cannot mint more:
 * with jti enforcement a job gets one exchange (the core refuses to re-send it).
 */
const gitlab: IdentitySource = {
  name: 'gitlab',
  mintsOnDemand: false,
  describe(options) {
    return `GitLab CI ID token in $${optionString(options, 'variable') ?? '(the id_tokens variable)'}`;
  },
  async fetch(ctx) {
    let variable = optionString(ctx.options, 'variable');
    if (!variable) {
      const choice = chooseGitlabVariable(ctx.env, audienceOf(ctx.options));
      if (!choice.variable) {
        throw new WifError('identity_unavailable', `gitlab: ${choice.reason}${readEnv(ctx.env, 'GITLAB_CI') ? '' : ' (not running in GitLab CI?)'}`, { hint: ID_TOKENS_FIX });
      }
      variable = choice.variable;
      ctx.log.debug(`gitlab: using ${variable}: ${choice.reason}`);
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
      throw new WifError('config_invalid', `gitlab: ${JSON.stringify(variable)} is not a valid variable name`);
    }
    const jwt = readEnv(ctx.env, variable)?.trim();
    if (!jwt) throw new WifError('identity_unavailable', `gitlab: the ID token variable ${variable} is not set in this job`, { hint: ID_TOKENS_FIX });
    return { jwt, origin: `GitLab CI id_tokens ${variable}` };
  },
};

export default gitlab;
