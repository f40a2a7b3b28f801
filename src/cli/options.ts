import { Option } from 'commander';
import { TARGETS } from '../output/credential-env.js';
import { EXEC_MODES, parseMode, DEFAULT_EXEC_MODE } from '../run/exec/modes.js';
import { choiceParser, parseMinTtl } from './option-values.js';

/**
 * Options defined once. Each option whose value has rules carries its parser: commander calls it
 * while parsing, so a bad value is a usage error (exit 2, our message and hint) before any command
 * runs, and the command receives the typed value. Options with a fixed list also carry the list
 * (commander's argChoices): `--help` shows it, and the completion model (completion.ts) reads it
 * from the same Option objects, so a `__complete` command can too.
 */

/** An option whose value is one of `choices`, parsed by `parse` (default: choiceParser). */
export function choiceOption<T extends string>(flags: string, description: string, choices: readonly T[], parse?: (value: string) => T): Option {
  const flag = flags.split(/[ ,]+/).find((f) => f.startsWith('--'))!;
  const o = new Option(flags, description);
  // argChoices without commander's own check: the parser below is the one check, with our wording.
  o.argChoices = [...choices];
  return o.argParser(parse ?? choiceParser(flag, choices));
}

export const minTtlOption = (description: string): Option => new Option('--min-ttl <seconds>', description).argParser(parseMinTtl);
export const forceRefreshOption = (): Option => new Option('--force-refresh', 'exchange even if the cached token is fresh');
export const targetOption = (description: string): Option =>
  choiceOption(
    '--target <client>',
    description,
    TARGETS,
    choiceParser('--target', TARGETS, 'use --target claude-code for Claude Code (CLAUDE_CODE_OAUTH_TOKEN), sdk for SDK apps and curl (ANTHROPIC_AUTH_TOKEN + ANTHROPIC_CUSTOM_HEADERS)'),
  );
export const modeOption = (description: string): Option => choiceOption('--mode <mode>', description, EXEC_MODES, parseMode).default(DEFAULT_EXEC_MODE);
