import type { Command } from 'commander';
import type { CommandContext, Invocation } from '../context.js';
import { completeWords, SHELLS, type Shell, type ValueSources } from '../completion.js';
import type { IO } from '../io.js';
import { sourceNames } from '../../config/source-options.js';
import { resolveConfigDir } from '../../config/paths.js';
import { listProfiles } from '../../config/profiles.js';
import { WifError } from '../../util/errors.js';

/** `claude-wif completion <shell>`: the (thin) script on stdout. */
export async function runCompletion(ctx: CommandContext, _opts: unknown, input: Invocation): Promise<number> {
  const shell = input.args[0] as Shell;
  const script = SHELLS[shell];
  if (!script) throw new WifError('usage_error', `no completion for shell ${JSON.stringify(shell)}`, { hint: `choose one of: ${Object.keys(SHELLS).join(', ')}` });
  ctx.io.stdout.write(script);
  return 0;
}

/**
 * `claude-wif __complete <words…>`, what the scripts call on every Tab: the candidates for the
 * last word, from the same command tree the parser uses. Never fails loudly: a broken
 * configuration must not break the user's shell.
 */
export async function runComplete(io: IO, words: string[], program: Command): Promise<number> {
  const sources: ValueSources = {
    profiles: (configDir) => {
      try {
        return listProfiles(resolveConfigDir(io.env, configDir).value).map((p) => p.name);
      } catch {
        return [];
      }
    },
    // Fixed lists (--mode, --cache, --format…) come with their options; only the sources' names are added here.
    choices: { '--identity-source': sourceNames() },
  };
  const c = completeWords(program, words.length ? words : [''], sources);
  io.stdout.write(`${c.values.map(([v, d]) => `${v}\t${d.replace(/[\t\n]/g, ' ')}\n`).join('')}:${c.directive}\n`);
  return 0;
}
