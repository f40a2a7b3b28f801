import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { commandSpec, SHELLS, type CmdSpec, type Shell } from '../completion.js';
import { sourceNames } from '../../config/source-options.js';
import { WifError } from '../../util/errors.js';
import { CACHE_BACKENDS } from '../../core/resolve.js';

/** The completion model of the whole program (the same tree `--help` shows). */
export async function programSpec(ctx: CommandContext): Promise<CmdSpec> {
  const { buildProgram } = await import('../main.js');
  const program = buildProgram(ctx.io, () => {});
  return commandSpec(program, { '--identity-source': sourceNames(), '--cache': [...CACHE_BACKENDS] });
}

/** `claude-wif completion <shell>`: the script on stdout. */
export async function runCompletion(ctx: CommandContext, _opts: unknown, cmd: Command): Promise<number> {
  const shell = cmd.args[0] as Shell;
  const gen = SHELLS[shell];
  if (!gen) throw new WifError('usage_error', `no completion for shell ${JSON.stringify(shell)}`, { hint: `choose one of: ${Object.keys(SHELLS).join(', ')}` });
  ctx.io.stdout.write(gen(await programSpec(ctx)));
  return 0;
}
