import { readEnv, type Env } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { audienceMatches, decodePayload } from './common.js';
import { audienceOf, optionString } from './options.js';
import type { IdentitySource } from './source.js';

const PREFIX = 'TFC_WORKLOAD_IDENTITY_TOKEN';
const FIX = 'set the workspace variable TFC_WORKLOAD_IDENTITY_AUDIENCE (or TFC_WORKLOAD_IDENTITY_AUDIENCE_<TAG>) to https://api.anthropic.com so the run gets TFC_WORKLOAD_IDENTITY_TOKEN[_<TAG>]';

export interface TfcChoice {
  variable?: string;
  reason: string;
  candidates: string[];
}

/**
 * Which TFC_WORKLOAD_IDENTITY_TOKEN[_<TAG>] to use: the configured tag; else the untagged one;
 * else the only tagged one; else the only one whose aud holds the audience; else ambiguous.
 */
export function chooseTfcVariable(env: Env, options: Record<string, unknown>): TfcChoice {
  const tag = optionString(options, 'tag');
  const candidates = Object.keys(env)
    .filter((k) => (k === PREFIX || k.startsWith(`${PREFIX}_`)) && readEnv(env, k))
    .sort();
  if (tag) {
    const name = `${PREFIX}_${tag.toUpperCase()}`;
    return candidates.includes(name) ? { variable: name, reason: `tag ${tag} is configured`, candidates } : { reason: `${name} is not set`, candidates };
  }
  if (candidates.includes(PREFIX)) return { variable: PREFIX, reason: `${PREFIX} is set`, candidates };
  if (candidates.length === 1) return { variable: candidates[0], reason: `${candidates[0]} is the only workload identity token`, candidates };
  const audience = audienceOf(options);
  const matching = candidates.filter((c) => {
    const p = decodePayload(env[c]);
    return p !== undefined && audienceMatches(p, audience);
  });
  if (matching.length === 1) return { variable: matching[0], reason: `${matching[0]} is the only workload identity token with audience ${audience}`, candidates };
  if (candidates.length === 0) return { reason: `no ${PREFIX}[_<TAG>] variable is set`, candidates };
  return { reason: `several tagged tokens are set (${candidates.join(', ')}) and ${matching.length ? 'more than one has' : 'none has'} audience ${audience}; set "tag"`, candidates };
}

/**
 * Terraform Cloud / Enterprise dynamic credentials (spec §6): the run's JWT is in
 * TFC_WORKLOAD_IDENTITY_TOKEN, or TFC_WORKLOAD_IDENTITY_TOKEN_<TAG> for tagged audiences. One per
 * run phase: it cannot mint.
 */
const terraformCloud: IdentitySource = {
  name: 'terraform-cloud',
  mintsOnDemand: false,
  describe(options) {
    const tag = optionString(options, 'tag');
    return `Terraform Cloud $${tag ? `${PREFIX}_${tag.toUpperCase()}` : PREFIX}`;
  },
  async fetch(ctx) {
    const choice = chooseTfcVariable(ctx.env, ctx.options);
    if (!choice.variable) throw new WifError('identity_unavailable', `terraform-cloud: ${choice.reason}`, { hint: FIX });
    return { jwt: readEnv(ctx.env, choice.variable)!.trim(), origin: `Terraform Cloud $${choice.variable}` };
  },
};

export default terraformCloud;
