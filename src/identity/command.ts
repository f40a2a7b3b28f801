import { WifError } from '../util/errors.js';
import { audienceOf, intOption } from './options.js';
import { runJwtCommand } from './jwt-command.js';
import type { IdentitySource } from './source.js';

function argvOf(options: Record<string, unknown>): string[] {
  const c = options['command'];
  if (Array.isArray(c) && c.length > 0 && c.every((a): a is string => typeof a === 'string')) return c;
  if (typeof c === 'string' && c.trim() !== '' && !/\s/.test(c.trim())) return [c.trim()];
  throw new WifError('config_invalid', `command: option "command" must be an argv array of strings${typeof c === 'string' ? ` (got the string ${JSON.stringify(c)}; no shell is used, so split it into words)` : ''}`, {
    hint: 'set "claude_wif": {"identity": {"source": "command", "command": ["gcloud", "auth", "print-identity-token"]}} in the profile',
  });
}

/**
 * Any program that prints a JWT on stdout. The audience is passed in CLAUDE_WIF_AUDIENCE so one
 * script can serve several profiles. Whether a program mints a new JWT per run is unknown (it may
 * just `cat` a file), so this source does not claim to mint on demand: the core then never
 * re-sends a JWT it already exchanged, and a program that does mint loses nothing but a retry.
 */
const commandSource: IdentitySource = {
  name: 'command',
  mintsOnDemand: false,
  describe(options) {
    const c = options['command'];
    return `command ${Array.isArray(c) ? c.map(String).join(' ') : typeof c === 'string' ? c : '(no command configured)'}`;
  },
  async fetch(ctx) {
    const argv = argvOf(ctx.options);
    const timeoutMs = intOption(ctx.options, 'timeout_ms', 'command', 1, 600_000) ?? Math.max(ctx.timeoutMs, 10_000);
    const jwt = await runJwtCommand({
      source: 'command',
      argv,
      env: { ...ctx.env, CLAUDE_WIF_AUDIENCE: audienceOf(ctx.options) },
      timeoutMs,
      notFoundHint: `install ${argv[0]} or fix "command" in the profile's claude_wif.identity`,
      failedHint: `run \`${argv.join(' ')}\` by hand to see why it fails; it must print only the JWT on stdout`,
    });
    return { jwt, origin: `command ${argv[0]}` };
  },
};

export default commandSource;
