import { WifError } from '../util/errors.js';
import { optionString } from './options.js';

/**
 * The Entra resource (the app ID URI, e.g. api://<APP_ID>) the token is for. Entra tokens carry
 * the resource as `aud`, so this is the "audience" of the other sources: `resource`, else `scope`
 * without /.default, else `audience`. There is no sensible default (spec §6: not api.anthropic.com).
 */
export function azureResource(source: string, options: Record<string, unknown>): string {
  const resource = optionString(options, 'resource') ?? optionString(options, 'scope')?.replace(/\/\.default$/, '') ?? optionString(options, 'audience');
  if (!resource) {
    throw new WifError('identity_unavailable', `${source}: no Entra resource is configured (the application ID URI the token is for)`, {
      hint: 'set "resource": "api://<APP_ID>" in the profile\'s claude_wif.identity (or --audience / CLAUDE_WIF_AUDIENCE)',
    });
  }
  return resource;
}

/** The `access_token` of an Azure token answer (a JWT for the resource). */
export const ACCESS_TOKEN_FIELD = 'access_token';
