/**
 * Renders environment variable assignments for the shell (or file format) a user will `eval`,
 * `source` or load. The values are access tokens, URLs, paths and header strings that we do not
 * control, so the rule here is: every value is emitted inside the quoting form of each shell
 * that has no expansions at all (where the format has one), and anything a format cannot carry
 * exactly and inertly is refused, never "mostly" escaped.
 */
import { randomUUID } from 'node:crypto';

import { WifError } from '../util/errors.js';

export type EnvFormat = 'sh' | 'fish' | 'powershell' | 'cmd' | 'dotenv' | 'json';

export const ENV_FORMATS: readonly EnvFormat[] = Object.freeze(['sh', 'fish', 'powershell', 'cmd', 'dotenv', 'json'] as const);

export interface EnvAssignment {
  name: string;
  /** `null` unsets (removes) the variable. */
  value: string | null;
}

// Portable across every target: POSIX sh, fish, PowerShell's `$env:` drive, cmd and dotenv readers.
// It also guarantees a name can never contain `=`, `<<`, quotes or whitespace, which the renderers rely on.
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

// With the `u` flag a well-formed surrogate pair is a single code point, so this only matches lone
// halves. Those cannot be encoded as UTF-8: Node would silently write U+FFFD and the variable would
// not hold what we were given.
const LONE_SURROGATE = /\p{Cs}/u;

// cmd.exe has no quoting that survives these: `%` expands even inside quotes, `!` and `^` change
// meaning under delayed expansion, `"` ends the quoted `set "NAME=value"` form, and CR/LF end the
// statement. Other C0 controls and DEL are refused too: nothing legitimate needs them and their
// handling by the console and batch parser (e.g. Ctrl-Z) is not something to bet a token on.
// Non-ASCII is allowed: in UTF-8 every byte of a non-ASCII character is >= 0x80, so none can
// decode to an ASCII metacharacter in the code page cmd reads it with.
const CMD_UNSAFE = /["%!^\x00-\x08\x0A-\x1F\x7F]/;

// PowerShell treats all of these as single-quote characters, both to open/close a '…' string and
// as the doubled escape inside one (PowerShell's CharExtensions.IsSingleQuote).
const POWERSHELL_SINGLE_QUOTES = /['\u2018\u2019\u201A\u201B]/g;

// The only characters renderEnv ever puts inside a PowerShell '…' string (see powerShellExpression).
const PRINTABLE_ASCII_RUN = /[\x20-\x7E]+/y;

const FORMAT_ALTERNATIVES = 'use --format powershell or --format json instead';

/** Describes a character for an error message without echoing the (possibly secret) value around it. */
function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return cp >= 0x21 && cp <= 0x7e ? `'${ch}' (${hex})` : hex;
}

/** Checks every target shares: the OS environment block is NUL-terminated, and UTF-8 needs well-formed text. */
function universalProblem(value: string): string | undefined {
  if (value.includes('\0')) return 'contains a NUL character, which no environment variable can hold';
  if (LONE_SURROGATE.test(value)) return 'contains an unpaired UTF-16 surrogate, which cannot be encoded as UTF-8';
  return undefined;
}

function assertRepresentable(value: string): void {
  const problem = universalProblem(value);
  if (problem) throw new WifError('usage_error', `cannot quote a value that ${problem}`);
}

/**
 * POSIX single quotes: nothing inside '…' is special, so the only character to handle is `'`
 * itself, which becomes `'\''` (close, escaped quote, reopen). Works in bash, zsh (with or without
 * RC_QUOTES: a closing quote here is always followed by `\` or the end, never by another `'`),
 * dash, ksh, mksh and busybox ash, and `!` inside stays inert under bash/zsh history expansion.
 *
 * One extra rule, for text pasted into an interactive bash with history expansion on: bash rewrites
 * a line that starts with `^` (quick substitution, `^old^new`) even when that line continues a
 * quoted string, corrupting the value. A `^` right after a newline is therefore written outside the
 * quotes as `\^`, so no physical line of the output starts with `^`.
 */
export function quoteSh(value: string): string {
  assertRepresentable(value);
  return `'${value.replaceAll("'", `'\\''`).replaceAll('\n^', `\n'\\^'`)}'`;
}

/** fish single quotes: only `\\` and `\'` are escapes inside, so escaping exactly those two is exact. */
export function quoteFish(value: string): string {
  assertRepresentable(value);
  // A newline is written as an unquoted \n between quoted parts ('a'\n'b' is one word, "a⏎b"), so
  // every assignment stays on one line: `eval (claude-wif env)` splits the output at newlines.
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`).replace(/\n/g, "'\\n'")}'`;
}

/**
 * PowerShell verbatim string. Any of the five single-quote characters would end it, and a pair of
 * quote characters inside means one literal quote, so each is doubled with itself (doubling with
 * ASCII `'` instead would turn a ‘ into a ' and change the value).
 */
export function quotePowerShell(value: string): string {
  assertRepresentable(value);
  return `'${value.replace(POWERSHELL_SINGLE_QUOTES, (c) => c + c)}'`;
}

/**
 * The PowerShell expression renderEnv assigns: printable ASCII runs in '…' (via quotePowerShell),
 * every other character as `[char]0xHHHH` (or ConvertFromUtf32 beyond the BMP), joined with `+`.
 *
 * Why not just quotePowerShell: (1) the common idiom `claude-wif env | Invoke-Expression` feeds
 * Invoke-Expression one line at a time, so a value containing a newline would leave the string
 * unterminated and run its next line as code; the statement must fit on one physical line.
 * (2) PowerShell decodes a native command's output with [Console]::OutputEncoding; under
 * Windows-1252 the UTF-8 bytes of e.g. "Ñ" (C3 91) decode to "Ã‘", and ‘ closes a single-quoted
 * string. Pure-ASCII output reads the same in every code page. `[char]` casts and
 * [char]::ConvertFromUtf32 work in Windows PowerShell 5.1 and in Constrained Language Mode,
 * unlike "`u{…}" (PowerShell 6+) or [Convert]/[Text.Encoding] calls.
 */
function powerShellExpression(value: string): string {
  if (value === '') return "''";
  const terms: string[] = [];
  let i = 0;
  while (i < value.length) {
    PRINTABLE_ASCII_RUN.lastIndex = i;
    const run = PRINTABLE_ASCII_RUN.exec(value);
    if (run) {
      terms.push(quotePowerShell(run[0]));
      i += run[0].length;
      continue;
    }
    const cp = value.codePointAt(i) ?? 0;
    const hex = cp.toString(16).toUpperCase().padStart(4, '0');
    terms.push(cp > 0xffff ? `[char]::ConvertFromUtf32(0x${hex})` : `[char]0x${hex}`);
    i += cp > 0xffff ? 2 : 1;
  }
  // `[char] + [char]` is numeric addition in PowerShell; a leading string makes every `+` a concatenation.
  if (!terms[0]?.startsWith("'")) terms.unshift("''");
  return terms.join(' + ');
}

/**
 * dotenv has no single standard. Single quotes are literal in docker compose and dotenv (npm), so
 * they are used whenever possible; dotenv (npm) turns CR into LF before parsing, hence CR also
 * forces double quotes. The double-quoted form escapes what docker compose's parser unescapes, plus
 * backticks, so that `set -a; . file` in a POSIX shell can never run code from a value (in sh
 * double quotes `\\ \" \$ \`` are exactly the four escapes; `\n` would stay literal). dotenv
 * (npm) only unescapes `\n` and `\r` in double quotes, so it reads the escaped characters with their
 * backslashes: exact for compose, inert everywhere. A trailing backslash is refused (assertValue).
 */
function quoteDotenv(value: string): string {
  if (!/['\n\r]/.test(value)) return `'${value}'`;
  const escaped = value.replace(/[\\"$`\n\r]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    return `\\${c}`;
  });
  return `"${escaped}"`;
}

function assertName(name: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new WifError('usage_error', `invalid environment variable name ${JSON.stringify(String(name))}`, {
      hint: 'names must match ^[A-Za-z_][A-Za-z0-9_]*$',
    });
  }
}

function assertValue(format: EnvFormat | 'github-env', name: string, value: string): void {
  const problem = universalProblem(value);
  if (problem) {
    throw new WifError('usage_error', `the value of ${name} ${problem}`, {
      hint: 'no output format can carry this value; check where it came from',
    });
  }
  if (format === 'dotenv' && value.endsWith('\\')) {
    // docker compose's parser and dotenv (npm) treat `\'` / `\"` as an escaped quote even where we
    // mean "backslash, then closing quote", and then read on into the next line: the next variable
    // would be swallowed. No quoting avoids that, and dotenv (npm) has no escape for `\` itself.
    throw new WifError('usage_error', `the value of ${name} ends with a backslash, which dotenv readers take as escaping the closing quote`, {
      hint: 'use --format json or --format sh instead',
    });
  }
  if (format === 'cmd') {
    const bad = CMD_UNSAFE.exec(value);
    if (bad) {
      throw new WifError(
        'usage_error',
        `the value of ${name} contains ${describeChar(bad[0])}, which cmd.exe cannot quote safely`,
        { hint: FORMAT_ALTERNATIVES },
      );
    }
  }
}

function assertFormat(format: string): asserts format is EnvFormat {
  if (!(ENV_FORMATS as readonly string[]).includes(format)) {
    throw new WifError('usage_error', `unknown env format ${JSON.stringify(format)}`, {
      hint: `choose one of: ${ENV_FORMATS.join(', ')}`,
    });
  }
}

function renderLine(format: Exclude<EnvFormat, 'json'>, { name, value }: EnvAssignment): string {
  switch (format) {
    case 'sh':
      return value === null ? `unset ${name}` : `export ${name}=${quoteSh(value)}`;
    case 'fish':
      // `set` stops parsing options at the first non-option, and the name can never start with
      // `-`, so a value like '-e' is an argument, not a flag.
      // Each line ends in `;`, so the lines still work joined by spaces (`eval (claude-wif env)`).
      return value === null ? `set -e ${name};` : `set -gx ${name} ${quoteFish(value)};`;
    case 'powershell':
      return value === null
        ? `Remove-Item Env:${name} -ErrorAction SilentlyContinue`
        : `$env:${name} = ${powerShellExpression(value)}`;
    case 'cmd':
      // Quoting the whole `NAME=value` makes & | < > ( ) literal and keeps trailing spaces.
      // An empty value deletes the variable in cmd; that matches "empty means unset" elsewhere.
      return value === null ? `set ${name}=` : `set "${name}=${value}"`;
    case 'dotenv':
      return value === null ? `${name}=` : `${name}=${quoteDotenv(value)}`;
  }
}

/**
 * Renders assignments in order, one statement per line (an sh or fish statement spans several
 * lines only when its value contains newlines), ending with a newline (json: one pretty-printed
 * object). Everything is validated before anything is rendered, so a refusal never leaves half an
 * output behind.
 *
 * fish output is meant for `| source`: `eval (…)` splits command output on newlines and would
 * mangle multi-line values.
 */
export function renderEnv(format: EnvFormat, vars: EnvAssignment[]): string {
  assertFormat(format);
  for (const { name, value } of vars) {
    assertName(name);
    if (value !== null) assertValue(format, name, value);
  }

  if (format === 'json') {
    // A null-prototype object so a variable called `__proto__` is an ordinary key, not a prototype swap.
    const obj: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
    for (const { name, value } of vars) obj[name] = value;
    return `${JSON.stringify(obj, null, 2)}\n`;
  }

  return vars.map((v) => `${renderLine(format, v)}\n`).join('');
}

// The GitHub runner compares each line to the delimiter verbatim, so it must be a single line; a
// conservative alphabet also keeps it clear of the `=` / `<<` detection on the header line.
const DELIMITER_RE = /^[A-Za-z0-9_-]+$/;
const MAX_DELIMITER_ATTEMPTS = 16;

function defaultDelimiter(): string {
  return `ghadelimiter_${randomUUID()}`;
}

/**
 * Text to append to `$GITHUB_ENV`. Every value uses the heredoc form `NAME<<DELIM` with a fresh
 * random delimiter, so a value containing newlines or `NAME2=…` lines cannot define other variables:
 * the runner only stops at a line equal to the delimiter, and we guarantee the delimiter does not
 * occur in the value at all. Unset becomes `NAME=` (empty), which the SDKs treat as unset.
 */
export function renderGithubEnvFile(vars: EnvAssignment[], randomDelimiter: () => string = defaultDelimiter): string {
  for (const { name, value } of vars) {
    assertName(name);
    if (value === null) continue;
    assertValue('github-env', name, value);
    // On Windows runners the runner reads CRLF as a line break, so a trailing CR would merge with
    // the newline before the delimiter and be dropped. Refusing beats silently changing a value.
    if (value.endsWith('\r')) {
      throw new WifError('usage_error', `the value of ${name} ends with a carriage return, which $GITHUB_ENV cannot preserve`, {
        hint: 'remove the trailing carriage return from the value',
      });
    }
  }

  return githubFileCommandBlocks(vars, randomDelimiter);
}

/**
 * The runner's file-command format shared by GITHUB_ENV, GITHUB_OUTPUT and GITHUB_STATE:
 * `NAME<<DELIM` blocks with a delimiter absent from the value; null becomes `NAME=`. Callers
 * validate the names for their file.
 */
export function githubFileCommandBlocks(vars: EnvAssignment[], randomDelimiter: () => string = defaultDelimiter): string {
  let out = '';
  for (const { name, value } of vars) {
    if (value === null) {
      out += `${name}=\n`;
      continue;
    }
    const delimiter = pickDelimiter(value, randomDelimiter);
    out += `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
  }
  return out;
}

function pickDelimiter(value: string, randomDelimiter: () => string): string {
  for (let attempt = 0; attempt < MAX_DELIMITER_ATTEMPTS; attempt++) {
    const candidate = randomDelimiter();
    if (typeof candidate !== 'string' || !DELIMITER_RE.test(candidate)) {
      throw new WifError('internal_error', 'the $GITHUB_ENV delimiter generator returned an unusable delimiter');
    }
    if (!value.includes(candidate)) return candidate;
  }
  throw new WifError('internal_error', `could not find a $GITHUB_ENV delimiter absent from the value after ${MAX_DELIMITER_ATTEMPTS} attempts`);
}
