import { audienceOf, intOption } from './options.js';
import { runJwtCommand } from './jwt-command.js';
import type { IdentitySource } from './source.js';

/**
 * Buildkite (spec §6): `buildkite-agent oidc request-token --audience <aud>` asks the agent API for
 * a new JWT for the current job each time, so this source mints on demand.
 */
const buildkite: IdentitySource = {
  name: 'buildkite',
  mintsOnDemand: true,
  describe(options) {
    return `buildkite-agent oidc request-token --audience ${audienceOf(options)}`;
  },
  async fetch(ctx) {
    const audience = audienceOf(ctx.options);
    const lifetime = intOption(ctx.options, 'lifetime', 'buildkite', 1, 86_400);
    const argv = ['buildkite-agent', 'oidc', 'request-token', '--audience', audience, ...(lifetime ? ['--lifetime', String(lifetime)] : [])];
    const jwt = await runJwtCommand({
      source: 'buildkite',
      argv,
      env: ctx.env,
      timeoutMs: Math.max(ctx.timeoutMs, 10_000),
      notFoundHint: 'run inside a Buildkite job, where buildkite-agent is on PATH',
      failedHint: 'run inside a Buildkite job (the agent needs BUILDKITE_JOB_ID and BUILDKITE_AGENT_ACCESS_TOKEN); check the pipeline may request OIDC tokens',
    });
    return { jwt, origin: `buildkite-agent oidc (audience ${audience})` };
  },
};

export default buildkite;
