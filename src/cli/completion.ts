import type { Argument, Command, Option } from 'commander';

/**
 * Shell completion the way cobra (gh) does it: the scripts are thin and ask the binary,
 * `claude-wif __complete <words…>`, which walks the same commander tree the parser uses. Values
 * therefore come per command from the option definitions themselves (`env --format` offers env's
 * formats, never token's), and a new option or choice needs no script change.
 *
 * Protocol: one candidate a line, `value<TAB>description`, then a last line `:<directive>`:
 * `:values` (only the candidates), `:files`, `:dirs` or `:commands` (the shell completes file
 * names, directories or command names itself).
 */

export type Directive = 'values' | 'files' | 'dirs' | 'commands';

export interface Candidates {
  values: Array<[value: string, description: string]>;
  directive: Directive;
}

/** What completes an option's value that commander has no choices for. */
export interface ValueSources {
  profiles(configDir: string | undefined): string[];
  /** Value lists for options without `.choices()` (the global --identity-source, --cache). */
  choices: Record<string, readonly string[]>;
}

/** Options whose value is a file or a directory: the shell completes those itself. */
export const FILE_OPTIONS = new Set(['--identity-token-file', '--socket', '--proxy-socket', '--private-key-path', '--config', '--secret-file', '--proxy-secret-file', '--write-env']);
export const DIR_OPTIONS = new Set(['--config-dir', '--dir']);

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();
const hidden = (c: Command): boolean => Boolean((c as unknown as { _hidden?: boolean })._hidden);

/** The option a word names, on this command or one of its parents (global options). */
function findOption(cmd: Command, name: string): Option | undefined {
  for (let c: Command | null = cmd; c; c = c.parent) {
    const o = (c.options as Option[]).find((x) => x.long === name || x.short === name || (x.negate && x.long === name));
    if (o) return o;
  }
  return undefined;
}

const takesValue = (o: Option): boolean => o.required || o.optional;

function optionsOf(cmd: Command): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (let c: Command | null = cmd; c; c = c.parent) {
    for (const o of c.options as Option[]) {
      if (o.hidden || !o.long || seen.has(o.long)) continue;
      seen.add(o.long);
      out.push([o.long, oneLine(o.description)]);
    }
  }
  out.push(['--help', 'display help']);
  return out;
}

function optionValues(o: Option, configDir: string | undefined, src: ValueSources): Candidates {
  const long = o.long ?? '';
  if (long === '--profile') return { values: src.profiles(configDir).map((p) => [p, 'profile']), directive: 'values' };
  const choices = o.argChoices ?? src.choices[long];
  if (choices?.length) return { values: choices.map((v) => [v, '']), directive: 'values' };
  if (FILE_OPTIONS.has(long)) return { values: [], directive: 'files' };
  if (DIR_OPTIONS.has(long)) return { values: [], directive: 'dirs' };
  return { values: [], directive: 'values' };
}

function argumentValues(arg: Argument, configDir: string | undefined, src: ValueSources): Candidates {
  if (arg.argChoices?.length) return { values: arg.argChoices.map((v) => [v, '']), directive: 'values' };
  if (arg.name() === 'name' || arg.name() === 'profile') return { values: src.profiles(configDir).map((p) => [p, 'profile']), directive: 'values' };
  if (arg.name() === 'path') return { values: [], directive: 'files' };
  return { values: [], directive: 'values' };
}

/**
 * Candidates for the last word of `words` (the words after the program name; the last one is the
 * word being completed, possibly empty).
 */
export function completeWords(program: Command, words: string[], src: ValueSources): Candidates {
  const cur = words.at(-1) ?? '';
  const prior = words.slice(0, -1);
  let cmd = program;
  let configDir: string | undefined;
  let positional = 0;
  for (let i = 0; i < prior.length; i++) {
    const w = prior[i]!;
    if (w === '--') {
      // Everything after `--` belongs to the child program (exec): its name, then its own arguments.
      return { values: [], directive: i === prior.length - 1 ? 'commands' : 'files' };
    }
    if (w.startsWith('-') && w !== '-') {
      const eq = w.indexOf('=');
      const name = eq > 0 ? w.slice(0, eq) : w;
      const o = findOption(cmd, name);
      if (o && takesValue(o)) {
        const value = eq > 0 ? w.slice(eq + 1) : prior[++i];
        if (o.long === '--config-dir') configDir = value;
      }
      continue;
    }
    const sub = (cmd.commands as Command[]).find((c) => c.name() === w || c.aliases().includes(w));
    if (sub && positional === 0) cmd = sub;
    else positional++;
  }

  const filter = (c: Candidates, prefix: string, strip = ''): Candidates => ({
    directive: c.directive,
    values: c.values.filter(([v]) => v.startsWith(prefix)).map(([v, d]) => [`${strip}${v}`, d]),
  });

  const prev = prior.at(-1);
  if (prev && prev.startsWith('-') && !prev.includes('=')) {
    const o = findOption(cmd, prev);
    if (o && takesValue(o)) return filter(optionValues(o, configDir, src), cur);
  }
  if (cur.startsWith('--') && cur.includes('=')) {
    const [name, partial] = [cur.slice(0, cur.indexOf('=')), cur.slice(cur.indexOf('=') + 1)];
    const o = findOption(cmd, name);
    if (o && takesValue(o)) return filter(optionValues(o, configDir, src), partial, `${name}=`);
  }
  if (cur.startsWith('-')) return filter({ values: optionsOf(cmd), directive: 'values' }, cur);

  const subs = (cmd.commands as Command[]).filter((c) => !hidden(c));
  if (subs.length && positional === 0) {
    const values: Array<[string, string]> = subs.map((c) => [c.name(), oneLine(c.description())]);
    if (cmd === program) values.push(['help', 'display help for a command']);
    return filter({ values, directive: 'values' }, cur);
  }
  const args = cmd.registeredArguments;
  const arg = args[Math.min(positional, args.length - 1)];
  if (!arg || (positional >= args.length && !arg.variadic)) return { values: [], directive: 'values' };
  return filter(argumentValues(arg, configDir, src), cur);
}

// ─── the scripts ────────────────────────────────────────────────────────────────────────────────

const bash = `# bash completion for claude-wif. Generated by \`claude-wif completion bash\`; do not edit.
# Install: claude-wif completion bash > ~/.local/share/bash-completion/completions/claude-wif
#      or: eval "$(claude-wif completion bash)" in ~/.bashrc
# The candidates come from \`claude-wif __complete\`, which reads the command tree itself.

_claude_wif() {
  local cur=\${COMP_WORDS[COMP_CWORD]} out line directive
  out=$(claude-wif __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  directive=\${out##*:}
  COMPREPLY=()
  case $directive in
    files) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); compopt -o filenames 2>/dev/null; return 0 ;;
    dirs) mapfile -t COMPREPLY < <(compgen -d -- "$cur"); compopt -o filenames 2>/dev/null; return 0 ;;
    commands) mapfile -t COMPREPLY < <(compgen -c -- "$cur"); return 0 ;;
  esac
  while IFS= read -r line; do
    [[ -z $line || $line == :* ]] && continue
    COMPREPLY+=("\${line%%$'\\t'*}")
  done <<<"$out"
}
complete -F _claude_wif claude-wif
`;

const zsh = `#compdef claude-wif
# zsh completion for claude-wif. Generated by \`claude-wif completion zsh\`; do not edit.
# Install: claude-wif completion zsh > "\${fpath[1]}/_claude-wif"   (then restart zsh)
# The candidates come from \`claude-wif __complete\`, which reads the command tree itself.

_claude-wif() {
  local -a lines cands
  local directive line value desc
  lines=("\${(@f)$(claude-wif __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  directive=\${lines[-1]#:}
  case $directive in
    files) _files; return ;;
    dirs) _files -/; return ;;
    commands) _command_names -e; return ;;
  esac
  for line in "\${(@)lines[1,-2]}"; do
    [[ -z $line ]] && continue
    value=\${line%%$'\\t'*}
    desc=\${line#*$'\\t'}
    if [[ -n $desc ]]; then cands+=("\${value//:/\\\\:}:\${desc}"); else cands+=("\${value//:/\\\\:}"); fi
  done
  (( \${#cands} )) && _describe -t values 'claude-wif' cands
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _claude-wif "$@"
else
  compdef _claude-wif claude-wif
fi
`;

const fish = `# fish completion for claude-wif. Generated by \`claude-wif completion fish\`; do not edit.
# Install: claude-wif completion fish > ~/.config/fish/completions/claude-wif.fish
# The candidates come from \`claude-wif __complete\`, which reads the command tree itself.

function __claude_wif_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l out (claude-wif __complete $words[2..-1] 2>/dev/null)
    or return
    switch (string replace -r '^:' '' -- $out[-1])
        case files
            __fish_complete_path (commandline -ct)
        case dirs
            __fish_complete_directories (commandline -ct)
        case commands
            __fish_complete_command (commandline -ct)
        case '*'
            printf '%s\\n' $out[1..-2]
    end
end

complete -c claude-wif -f -a '(__claude_wif_complete)'
`;

const powershell = `# PowerShell completion for claude-wif. Generated by \`claude-wif completion powershell\`; do not edit.
# Install: claude-wif completion powershell | Out-String | Invoke-Expression   (e.g. in $PROFILE)
# The candidates come from \`claude-wif __complete\`, which reads the command tree itself.

Register-ArgumentCompleter -Native -CommandName claude-wif -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })
    if ($wordToComplete -eq '') { $words += '' }
    $out = @(& claude-wif __complete @words 2>$null)
    if ($out.Count -eq 0) { return }
    $directive = $out[-1].TrimStart(':')
    if ($directive -ne 'values') { return }
    foreach ($line in $out[0..($out.Count - 2)]) {
        if ($line -eq '') { continue }
        $parts = $line -split "\`t", 2
        $desc = if ($parts.Count -gt 1 -and $parts[1]) { $parts[1] } else { $parts[0] }
        [System.Management.Automation.CompletionResult]::new($parts[0], $parts[0], 'ParameterValue', $desc)
    }
}
`;

export const SHELLS = { bash, zsh, fish, powershell } as const;
export type Shell = keyof typeof SHELLS;

/** Where the checked-in copies live (completions/), by shell. */
export const COMPLETION_FILES: Record<Shell, string> = {
  bash: 'claude-wif.bash',
  zsh: '_claude-wif',
  fish: 'claude-wif.fish',
  powershell: 'claude-wif.ps1',
};
