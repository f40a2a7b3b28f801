import type { Command, Option } from 'commander';

/**
 * Shell completion scripts generated from the commander tree, so they cannot drift from the
 * commands (a test compares them with the copies in completions/). Profile names are completed
 * at run time by `claude-wif profiles list --names` (honouring a --config-dir already typed).
 */

/** How an option's value or a positional argument is completed. */
export type ValueKind = { kind: 'profile' } | { kind: 'file' } | { kind: 'dir' } | { kind: 'choices'; values: string[] } | { kind: 'none' };

export interface OptSpec {
  names: string[];
  description: string;
  value?: ValueKind | undefined;
}

export interface CmdSpec {
  /** Space-separated path from the root ("" for the root, "profiles list"). */
  path: string;
  name: string;
  description: string;
  options: OptSpec[];
  commands: CmdSpec[];
  /** Completion of the first positional argument, if any. */
  arg?: ValueKind | undefined;
}

const FILE_OPTIONS = new Set(['--identity-token-file', '--private-key-path', '--config']);
const DIR_OPTIONS = new Set(['--config-dir']);

function valueKind(o: Option, extraChoices: Record<string, string[]>): ValueKind | undefined {
  if (!o.required && !o.optional) return undefined;
  const long = o.long ?? '';
  if (long === '--profile') return { kind: 'profile' };
  if (o.argChoices?.length) return { kind: 'choices', values: [...o.argChoices] };
  if (extraChoices[long]) return { kind: 'choices', values: extraChoices[long]! };
  if (FILE_OPTIONS.has(long)) return { kind: 'file' };
  if (DIR_OPTIONS.has(long)) return { kind: 'dir' };
  return { kind: 'none' };
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/** The completion model of a program. `extraChoices` adds value lists commander does not know (identity sources). */
export function commandSpec(cmd: Command, extraChoices: Record<string, string[]> = {}, path = ''): CmdSpec {
  const options: OptSpec[] = (cmd.options as Option[])
    .filter((o) => !o.hidden)
    .map((o) => ({ names: [o.short, o.long].filter((n): n is string => Boolean(n)), description: oneLine(o.description), value: valueKind(o, extraChoices) }));
  options.push({ names: ['-h', '--help'], description: 'display help' });
  const visible = (cmd.commands as Command[]).filter((c) => !(c as unknown as { _hidden: boolean })._hidden);
  const first = cmd.registeredArguments[0];
  let arg: ValueKind | undefined;
  if (first) {
    if (first.argChoices?.length) arg = { kind: 'choices', values: [...first.argChoices] };
    else if (first.name() === 'name') arg = { kind: 'profile' };
    else arg = { kind: 'none' };
  }
  const spec: CmdSpec = {
    path,
    name: cmd.name(),
    description: oneLine(cmd.description()),
    options,
    commands: visible.map((c) => commandSpec(c, extraChoices, path ? `${path} ${c.name()}` : c.name())),
    arg,
  };
  if (!path && visible.length) spec.commands.push({ path: 'help', name: 'help', description: 'display help for a command', options: [], commands: [], arg: { kind: 'none' } });
  return spec;
}

function walk(spec: CmdSpec, f: (s: CmdSpec) => void): void {
  f(spec);
  for (const c of spec.commands) walk(c, f);
}

/** Options that take a value, anywhere in the tree (a flag never means two things here). */
function valueOptions(root: CmdSpec): string[] {
  const set = new Set<string>();
  walk(root, (s) => s.options.forEach((o) => o.value && o.names.forEach((n) => set.add(n))));
  return [...set].sort();
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// ---------------------------------------------------------------------------------------- bash

function bashValue(v: ValueKind | undefined, cur = '"$cur"'): string {
  switch (v?.kind) {
    case 'profile':
      return `COMPREPLY=($(compgen -W "$(_claude_wif_profiles)" -- ${cur}))`;
    case 'choices':
      return `COMPREPLY=($(compgen -W ${shq(v.values.join(' '))} -- ${cur}))`;
    case 'file':
      return `COMPREPLY=($(compgen -f -- ${cur}))`;
    case 'dir':
      return `COMPREPLY=($(compgen -d -- ${cur}))`;
    default:
      return 'COMPREPLY=()';
  }
}

export function bashScript(root: CmdSpec): string {
  const bin = root.name;
  const globals = root.options;
  const subs: string[] = [];
  const opts: string[] = [];
  const args: string[] = [];
  const values: string[] = [];
  walk(root, (s) => {
    const key = shq(s.path);
    if (s.commands.length) subs.push(`    ${key}) echo ${shq(s.commands.map((c) => c.name).join(' '))} ;;`);
    const names = (s.path ? [...s.options, ...globals.filter((g) => !s.options.some((o) => o.names[0] === g.names[0]))] : s.options).flatMap((o) => o.names.filter((n) => n.startsWith('--')));
    opts.push(`    ${key}) echo ${shq([...new Set(names)].join(' '))} ;;`);
    if (s.arg && s.arg.kind !== 'none') args.push(`    ${key}) ${bashValue(s.arg)} ;;`);
  });
  const seen = new Set<string>();
  walk(root, (s) =>
    s.options.forEach((o) => {
      if (!o.value || seen.has(o.names.join('|'))) return;
      seen.add(o.names.join('|'));
      values.push(`    ${o.names.join('|')}) ${bashValue(o.value)} ;;`);
    }),
  );
  return `# bash completion for ${bin}. Generated by \`${bin} completion bash\`; do not edit.
# Install: ${bin} completion bash > ~/.local/share/bash-completion/completions/${bin}
#      or: eval "$(${bin} completion bash)" in ~/.bashrc

_claude_wif_profiles() {
  local i dir=
  for ((i = 1; i < \${#COMP_WORDS[@]} - 1; i++)); do
    [[ \${COMP_WORDS[i]} == --config-dir ]] && dir=\${COMP_WORDS[i + 1]}
  done
  ${bin} \${dir:+--config-dir "$dir"} profiles list --names 2>/dev/null
}

_claude_wif_subcommands() {
  case "$1" in
${subs.join('\n')}
  esac
}

_claude_wif_options() {
  case "$1" in
${opts.join('\n')}
  esac
}

_claude_wif_takes_value() {
  case "$1" in
    ${valueOptions(root).join('|')}) return 0 ;;
  esac
  return 1
}

_claude_wif() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev= cmdpath= i w
  ((COMP_CWORD > 0)) && prev=\${COMP_WORDS[COMP_CWORD - 1]}
  local npos=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ $w == -* ]]; then
      _claude_wif_takes_value "$w" && ((i++))
    elif [[ " $(_claude_wif_subcommands "$cmdpath") " == *" $w "* ]]; then
      cmdpath=\${cmdpath:+$cmdpath }$w
      npos=0
    else
      ((npos++))
    fi
  done
  if [[ $prev == -* ]] && _claude_wif_takes_value "$prev"; then
    case "$prev" in
${values.join('\n')}
    esac
    return 0
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_claude_wif_options "$cmdpath")" -- "$cur"))
    return 0
  fi
  local subs
  subs=$(_claude_wif_subcommands "$cmdpath")
  if [[ -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return 0
  fi
  if ((npos == 0)); then
    case "$cmdpath" in
${args.join('\n')}
    esac
  fi
}

complete -F _claude_wif ${bin}
`;
}

// ----------------------------------------------------------------------------------------- zsh

const zq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const zdesc = (name: string, d: string) => zq(`${name.replace(/:/g, '\\:')}:${d}`);

function zshValue(v: ValueKind | undefined): string {
  switch (v?.kind) {
    case 'profile':
      return `_claude_wif_profiles`;
    case 'choices':
      return `compadd -- ${v.values.map(zq).join(' ')}`;
    case 'file':
      return '_files';
    case 'dir':
      return '_files -/';
    default:
      return '_message value';
  }
}

export function zshScript(root: CmdSpec): string {
  const bin = root.name;
  const globals = root.options;
  const subs: string[] = [];
  const opts: string[] = [];
  const args: string[] = [];
  const values: string[] = [];
  walk(root, (s) => {
    const key = zq(s.path);
    if (s.commands.length) subs.push(`    ${key}) descs=(${s.commands.map((c) => zdesc(c.name, c.description)).join(' ')}) ;;`);
    const list = s.path ? [...s.options, ...globals.filter((g) => !s.options.some((o) => o.names[0] === g.names[0]))] : s.options;
    const entries = list.flatMap((o) => o.names.filter((n) => n.startsWith('--')).map((n) => zdesc(n, o.description)));
    opts.push(`    ${key}) descs=(${entries.join(' ')}) ;;`);
    if (s.arg && s.arg.kind !== 'none') args.push(`    ${key}) ${zshValue(s.arg)} ;;`);
  });
  const seen = new Set<string>();
  walk(root, (s) =>
    s.options.forEach((o) => {
      if (!o.value || seen.has(o.names.join('|'))) return;
      seen.add(o.names.join('|'));
      values.push(`    ${o.names.join('|')}) ${zshValue(o.value)} ;;`);
    }),
  );
  return `#compdef ${bin}
# zsh completion for ${bin}. Generated by \`${bin} completion zsh\`; do not edit.
# Install: ${bin} completion zsh > "\${fpath[1]}/_${bin}"   (then restart zsh)
#      or: source <(${bin} completion zsh) after compinit in ~/.zshrc

_claude_wif_profiles() {
  local dir= i
  for ((i = 2; i < CURRENT; i++)); do
    [[ \${words[i]} == --config-dir ]] && dir=\${words[i+1]}
  done
  local -a names
  names=(\${(f)"$(${bin} \${dir:+--config-dir "$dir"} profiles list --names 2>/dev/null)"})
  compadd -a names
}

_claude_wif_takes_value() {
  case "$1" in
    ${valueOptions(root).join('|')}) return 0 ;;
  esac
  return 1
}

_claude_wif_subcommands() {
  descs=()
  case "$1" in
${subs.join('\n')}
  esac
}

_claude_wif() {
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]} cmdpath= w i npos=0
  local -a descs
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    if [[ $w == -* ]]; then
      _claude_wif_takes_value "$w" && ((i++))
    else
      _claude_wif_subcommands "$cmdpath"
      if (( \${descs[(I)\${w}:*]} )); then
        cmdpath=\${cmdpath:+$cmdpath }$w
        npos=0
      else
        ((npos++))
      fi
    fi
  done
  if [[ $prev == -* ]] && _claude_wif_takes_value "$prev"; then
    case "$prev" in
${values.join('\n')}
    esac
    return
  fi
  if [[ $cur == -* ]]; then
    case "$cmdpath" in
${opts.join('\n')}
    esac
    _describe -t options option descs
    return
  fi
  _claude_wif_subcommands "$cmdpath"
  if (( \${#descs} )); then
    _describe -t commands command descs
    return
  fi
  if ((npos == 0)); then
    case "$cmdpath" in
${args.join('\n')}
    esac
  fi
}

# Autoloaded from fpath the file is the body of _${bin}: complete now. Sourced: register.
if [[ $funcstack[1] == _${bin} ]]; then
  _claude_wif "$@"
else
  compdef _claude_wif ${bin}
fi
`;
}

// ---------------------------------------------------------------------------------------- fish

const fq = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fishValue(v: ValueKind | undefined): string {
  switch (v?.kind) {
    case 'profile':
      return `-x -a '(__claude_wif_profiles)'`;
    case 'choices':
      return `-x -a ${fq(v.values.join(' '))}`;
    case 'file':
      return '-r -F';
    case 'dir':
      return `-x -a '(__fish_complete_directories)'`;
    default:
      return '-x';
  }
}

export function fishScript(root: CmdSpec): string {
  const bin = root.name;
  const lines: string[] = [
    `# fish completion for ${bin}. Generated by \`${bin} completion fish\`; do not edit.`,
    `# Install: ${bin} completion fish > ~/.config/fish/completions/${bin}.fish`,
    '',
    'function __claude_wif_profiles',
    '    set -l words (commandline -opc)',
    '    set -l dir',
    '    for i in (seq (count $words))',
    `        if test "$words[$i]" = --config-dir; and test $i -lt (count $words)`,
    '            set dir --config-dir $words[(math $i + 1)]',
    '        end',
    '    end',
    `    ${bin} $dir profiles list --names 2>/dev/null`,
    'end',
    '',
    '# The subcommand path typed so far (options and their values skipped).',
    'function __claude_wif_path',
    '    set -l words (commandline -opc)',
    '    set -e words[1]',
    '    set -l path',
    '    set -l skip 0',
    '    for w in $words',
    '        if test $skip = 1',
    '            set skip 0',
    '            continue',
    '        end',
    '        switch $w',
    `            case ${valueOptions(root).join(' ')}`,
    '                set skip 1',
    '            case "-*"',
    '            case "*"',
    '                set -l next (string join " " $path $w)',
    '                if contains -- $next $__claude_wif_commands',
    '                    set path $path $w',
    '                end',
    '        end',
    '    end',
    '    string join " " $path',
    'end',
    '',
    'function __claude_wif_at',
    '    set -l path (__claude_wif_path)',
    '    test "$path" = "$argv[1]"',
    'end',
    '',
  ];
  const all: string[] = [];
  walk(root, (s) => s.path && all.push(s.path));
  lines.push(`set -g __claude_wif_commands ${all.map(fq).join(' ')}`, '', `complete -c ${bin} -f`);
  walk(root, (s) => {
    const cond = `-n ${fq(`__claude_wif_at ${fq(s.path)}`)}`;
    for (const c of s.commands) lines.push(`complete -c ${bin} ${cond} -a ${fq(c.name)} -d ${fq(c.description)}`);
    for (const o of s.options) {
      const flags = o.names.map((n) => (n.startsWith('--') ? `-l ${n.slice(2)}` : `-s ${n.slice(1)}`)).join(' ');
      // Global options are accepted after any subcommand too (commander parses them anywhere).
      const where = s.path ? cond : '';
      lines.push(`complete -c ${bin} ${where ? `${where} ` : ''}${flags} ${o.value ? `${fishValue(o.value)} ` : ''}-d ${fq(o.description)}`);
    }
    if (s.arg && s.arg.kind !== 'none') lines.push(`complete -c ${bin} ${cond} ${fishValue(s.arg)}`);
  });
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------- powershell

const pq = (s: string) => `'${s.replace(/'/g, "''")}'`;

function psValue(v: ValueKind | undefined): string {
  switch (v?.kind) {
    case 'profile':
      return `@{ kind = 'profile' }`;
    case 'choices':
      return `@{ kind = 'choices'; values = @(${v.values.map(pq).join(', ')}) }`;
    case 'file':
    case 'dir':
      return `@{ kind = 'path' }`;
    default:
      return `@{ kind = 'none' }`;
  }
}

export function powershellScript(root: CmdSpec): string {
  const bin = root.name;
  const entries: string[] = [];
  walk(root, (s) => {
    const list = s.path ? [...s.options, ...root.options.filter((g) => !s.options.some((o) => o.names[0] === g.names[0]))] : s.options;
    entries.push(
      `  ${pq(s.path)} = @{
    commands = @(${s.commands.map((c) => pq(c.name)).join(', ')})
    options = @(${[...new Set(list.flatMap((o) => o.names.filter((n) => n.startsWith('--'))))].map(pq).join(', ')})
    arg = ${psValue(s.arg)}
  }`,
    );
  });
  const values: string[] = [];
  const seen = new Set<string>();
  walk(root, (s) =>
    s.options.forEach((o) => {
      if (!o.value) return;
      for (const n of o.names) {
        if (seen.has(n)) continue;
        seen.add(n);
        values.push(`  ${pq(n)} = ${psValue(o.value)}`);
      }
    }),
  );
  return `# PowerShell completion for ${bin}. Generated by \`${bin} completion powershell\`; do not edit.
# Install: ${bin} completion powershell | Out-String | Invoke-Expression   (e.g. in $PROFILE)

$__claudeWifTree = @{
${entries.join('\n')}
}

$__claudeWifValues = @{
${values.join('\n')}
}

Register-ArgumentCompleter -Native -CommandName ${bin} -ScriptBlock {
  param($wordToComplete, $commandAst, $cursorPosition)
  $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })
  if ($wordToComplete -ne '' -and $words.Count -gt 0) { $words = @($words | Select-Object -First ($words.Count - 1)) }
  $path = ''
  $prev = $null
  $skip = $false
  foreach ($w in $words) {
    $prev = $w
    if ($skip) { $skip = $false; continue }
    if ($w.StartsWith('-')) { if ($__claudeWifValues.ContainsKey($w)) { $skip = $true }; continue }
    $next = if ($path) { "$path $w" } else { $w }
    if ($__claudeWifTree.ContainsKey($next)) { $path = $next }
  }
  $candidates = @()
  if ($prev -and $__claudeWifValues.ContainsKey($prev) -and $skip) {
    $v = $__claudeWifValues[$prev]
  } elseif ($wordToComplete.StartsWith('-')) {
    $candidates = $__claudeWifTree[$path].options
    $v = $null
  } elseif ($__claudeWifTree[$path].commands.Count -gt 0) {
    $candidates = $__claudeWifTree[$path].commands
    $v = $null
  } else {
    $v = $__claudeWifTree[$path].arg
  }
  if ($v) {
    switch ($v.kind) {
      'profile' { $candidates = @(& ${bin} profiles list --names 2>$null) }
      'choices' { $candidates = $v.values }
      'path' { $candidates = @(Get-ChildItem -Path "$wordToComplete*" -ErrorAction SilentlyContinue | ForEach-Object { $_.Name }) }
    }
  }
  $candidates | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
  }
}
`;
}

export const SHELLS = { bash: bashScript, zsh: zshScript, fish: fishScript, powershell: powershellScript } as const;
export type Shell = keyof typeof SHELLS;

/** Where the checked-in copy of each script lives (completions/). */
export const COMPLETION_FILES: Record<Shell, string> = {
  bash: 'claude-wif.bash',
  zsh: '_claude-wif',
  fish: 'claude-wif.fish',
  powershell: 'claude-wif.ps1',
};
