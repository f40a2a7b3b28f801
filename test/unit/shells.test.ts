import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, join } from 'node:path';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import {
  ENV_FORMATS,
  quoteFish,
  quotePowerShell,
  quoteSh,
  renderEnv,
  renderGithubEnvFile,
  type EnvAssignment,
  type EnvFormat,
} from '../../src/output/shells.js';
import { WifError } from '../../src/util/errors.js';

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

// Created by any payload that manages to execute. Unique per run so a stale file cannot hide a
// regression, and checked after every test.
const MARKER = join(tmpdir(), `pwned-${randomBytes(6).toString('hex')}`);
const HOME = mkdtempSync(join(tmpdir(), 'claude-wif-shells-'));

// A half-broken quoter can also create the marker with a suffix (the rest of the script glued onto
// the file name), so look for anything starting with the marker's name.
function markerFiles(): string[] {
  return readdirSync(tmpdir()).filter((f) => f.startsWith(basename(MARKER)));
}

afterEach(() => {
  expect(markerFiles(), `a value executed code: ${MARKER}* exists`).toEqual([]);
});

afterAll(() => {
  rmSync(HOME, { recursive: true, force: true });
  for (const f of markerFiles()) rmSync(join(tmpdir(), f), { force: true });
});

/** Scrubbed child environment: nothing from the runner leaks in, and nothing a value says can be pre-set. */
function shellEnv(): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME };
}

function hasCommand(bin: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

const LONG = "a'b\"c$(d)`e`;f&&g\\h\ni!j*k~l‘m’n😀".repeat(40).slice(0, 1000);

interface Nasty {
  label: string;
  value: string;
}

const NASTY: Nasty[] = [
  { label: 'a plain token', value: 'tok_0123456789abcdefABCDEF-._~+/=' },
  { label: 'the empty string', value: '' },
  { label: 'a single quote', value: "it's" },
  { label: 'only single quotes', value: "'''" },
  { label: 'double quotes', value: 'say "hi" ""' },
  { label: '$() substitution', value: `$(touch ${MARKER})` },
  { label: 'backticks', value: `\`touch ${MARKER}\`` },
  { label: 'parameter expansions', value: '$HOME ${HOME} $0 $$ $1 ${x:-y} $((1+1))' },
  { label: 'a semicolon', value: `x; touch ${MARKER}` },
  { label: '&&, || and pipes', value: `x && touch ${MARKER} || touch ${MARKER} | cat > /dev/null` },
  { label: 'a single-quote breakout', value: `'; touch ${MARKER}; '` },
  { label: 'a double-quote breakout', value: `"; touch ${MARKER}; "` },
  { label: 'backslashes', value: 'C:\\Users\\x\\ \\\\ \\n \\t trailing\\' },
  { label: 'a backslash-quote breakout (fish)', value: `\\'; touch ${MARKER}; #` },
  { label: "a '\\'' sequence", value: `'\\''; touch ${MARKER}; '\\''` },
  { label: 'newlines', value: `line1\nline2\n\ntouch ${MARKER}\n` },
  { label: 'CR and CRLF', value: `a\rb\r\nc\rtouch ${MARKER}\r` },
  { label: 'tabs', value: '\ta\tb\t' },
  { label: 'history expansion', value: '!! !-1 !$ !echo ^a^b' },
  { label: 'globs and tildes', value: '* ? [a-z] ~ ~root {a,b} **/*' },
  { label: 'unicode single quotes', value: `‘; touch ${MARKER}; ’ ‚ ‛ “ ” „` },
  { label: 'emoji and non-Latin text', value: 'héllo wörld 😀 日本語 Ñ\u2028\u2029\u0085\u00a0\ufeff' },
  { label: 'a leading dash', value: '-e' },
  { label: 'option-like words', value: '--help -n -- -gx' },
  { label: 'a 1000-character string', value: LONG },
  { label: 'cmd expansions', value: '%PATH% !PATH! ^& ^| %%' },
  { label: 'PowerShell syntax', value: `$(New-Item -ItemType File ${MARKER}) $env:HOME @(1) \`$x \`n` },
  { label: 'fish substitutions', value: `(touch ${MARKER}) $(touch ${MARKER}) {a,b}` },
  { label: 'a comment', value: `# touch ${MARKER}` },
  { label: 'control characters', value: '\x01\x07\x1b[31mred\x1b[0m\x7f' },
  { label: 'surrounding spaces', value: '  spaced  ' },
  { label: 'equals signs', value: 'a=b==c' },
  { label: 'heredoc look-alikes', value: 'EOF\n<<EOF\nEOF' },
];

// A tiny seeded PRNG (mulberry32) so the fuzz corpus is identical on every run.
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FUZZ_ALPHABET: readonly string[] = [
  ...`'"\\$\`(){}[];&|<>!*?~#%^=-+ \t\n\r:@,.`.split(''),
  'a', 'Z', '0', '_', '‘', '’', '‚', '‛', '“', '”', 'é', 'Ñ', '日', '😀', '\u2028', '\u0085', '\x01', '\x1b', '\x7f',
  // Whole payloads, so random strings also contain working exploits for a broken quoter.
  `$(touch ${MARKER})`, `\`touch ${MARKER}\``, `'; touch ${MARKER}; '`, `\\'`, `'\\''`, '\\\\', "''", '$((', 'EOF',
];

function fuzzCorpus(seed: number, count: number): string[] {
  const rand = mulberry32(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = Math.floor(rand() * rand() * 40); // skewed towards short strings, some empty
    let s = '';
    for (let j = 0; j < length; j++) s += FUZZ_ALPHABET[Math.floor(rand() * FUZZ_ALPHABET.length)];
    out.push(s);
  }
  return out;
}

const FUZZ = fuzzCorpus(0x5eed, 300);

function varsFor(values: readonly string[], prefix: string): EnvAssignment[] {
  return values.map((value, i) => ({ name: `${prefix}${i}`, value }));
}

function expectUsageError(fn: () => unknown, ...mentions: string[]): WifError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(WifError);
  const err = caught as WifError;
  expect(err.code).toBe('usage_error');
  const text = `${err.message} ${err.hint ?? ''}`;
  for (const m of mentions) expect(text).toContain(m);
  return err;
}

/** Splits NUL-terminated output (printf '%s\0' …) back into values. */
function splitNul(out: Buffer): string[] {
  const text = out.toString('utf8');
  expect(text.endsWith('\0')).toBe(true);
  return text.slice(0, -1).split('\0');
}

function expectClean(res: SpawnSyncReturns<Buffer>): void {
  expect(res.error).toBeUndefined();
  expect(res.stderr.toString('utf8')).toBe('');
  expect(res.status).toBe(0);
}

const PS_QUOTES = new Set(["'", '\u2018', '\u2019', '\u201A', '\u201B']);

/**
 * Evaluates exactly the PowerShell subset renderEnv emits, and throws on anything else, so the
 * powershell format is checked even where pwsh is not installed. String literals follow
 * PowerShell's tokenizer: any of the five single-quote characters ends a '…' string unless it is
 * immediately followed by another one, which makes the pair one literal character.
 */
function evalPowerShellSubset(text: string): Map<string, string | null> {
  const env = new Map<string, string | null>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    const remove = /^Remove-Item Env:([A-Za-z_][A-Za-z0-9_]*) -ErrorAction SilentlyContinue$/.exec(line);
    if (remove) {
      env.set(remove[1] ?? '', null);
      continue;
    }
    const assign = /^\$env:([A-Za-z_][A-Za-z0-9_]*) = /.exec(line);
    if (!assign) throw new Error(`unexpected statement: ${line}`);
    let i = assign[0].length;
    let value = '';
    for (let term = 0; ; term++) {
      const c = line[i] ?? '';
      if (PS_QUOTES.has(c)) {
        i++;
        for (;;) {
          if (i >= line.length) throw new Error(`unterminated string: ${line}`);
          const ch = line[i] as string;
          if (PS_QUOTES.has(ch)) {
            if (!PS_QUOTES.has(line[i + 1] ?? '')) break;
            value += ch;
            i += 2;
            continue;
          }
          value += ch;
          i++;
        }
        i++;
      } else {
        // `[char] + [char]` would be numeric addition: only a string may come first.
        if (term === 0) throw new Error(`expression does not start with a string: ${line}`);
        const m = /^\[char\]0x([0-9A-F]{4})|^\[char\]::ConvertFromUtf32\(0x([0-9A-F]{5,6})\)/.exec(line.slice(i));
        if (!m) throw new Error(`unexpected term at ${i}: ${line}`);
        value += m[1] !== undefined ? String.fromCharCode(parseInt(m[1], 16)) : String.fromCodePoint(parseInt(m[2] ?? '', 16));
        i += m[0].length;
      }
      if (i === line.length) break;
      if (line.slice(i, i + 3) !== ' + ') throw new Error(`unexpected text at ${i}: ${line}`);
      i += 3;
    }
    env.set(assign[1] ?? '', value);
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// Unit tests
// ---------------------------------------------------------------------------------------------

describe('quoting primitives', () => {
  it('quoteSh uses POSIX single quotes', () => {
    expect(quoteSh("it's")).toBe(`'it'\\''s'`);
    expect(quoteSh('')).toBe("''");
    expect(quoteSh('$(x) `y` \\ "z"\n')).toBe(`'$(x) \`y\` \\ "z"\n'`);
  });

  it('quoteSh never starts an output line with ^ (interactive bash quick substitution)', () => {
    expect(quoteSh('x\n^a^b')).toBe(`'x\n'\\^'a^b'`);
    expect(quoteSh('^a^b')).toBe(`'^a^b'`);
    for (const v of [...NASTY.map((n) => n.value), ...FUZZ, '\n^\n^^']) {
      // Split on LF only: that is what bash reads as a line (a JS /m regex would also split at U+2028).
      for (const line of renderEnv('sh', [{ name: 'V', value: v }]).split('\n')) expect(line.startsWith('^')).toBe(false);
    }
  });

  it('quoteFish escapes only backslash and single quote; a newline becomes an unquoted \\n so the value stays on one line', () => {
    expect(quoteFish("a\\b'c")).toBe(`'a\\\\b\\'c'`);
    expect(quoteFish('$x (y) "z"\n')).toBe(`'$x (y) "z"'\\n''`);
    expect(quoteFish('')).toBe("''");
  });

  it('quotePowerShell doubles every PowerShell single-quote character with itself', () => {
    expect(quotePowerShell("it's")).toBe("'it''s'");
    expect(quotePowerShell('a‘b’c‚d‛e')).toBe("'a‘‘b’’c‚‚d‛‛e'");
    expect(quotePowerShell('$env:X `n "y"')).toBe("'$env:X `n \"y\"'");
    for (const v of [...NASTY.map((n) => n.value), ...FUZZ].filter((x) => !/[\n\r]/.test(x))) {
      expect(evalPowerShellSubset(`$env:X = ${quotePowerShell(v)}\n`).get('X')).toBe(v);
    }
  });

  it('refuses NUL, which no environment variable can hold', () => {
    for (const q of [quoteSh, quoteFish, quotePowerShell]) expectUsageError(() => q('a\0b'), 'NUL');
  });
});

describe('renderEnv formats', () => {
  const vars: EnvAssignment[] = [
    { name: 'ANTHROPIC_AUTH_TOKEN', value: "t'ok" },
    { name: 'ANTHROPIC_BASE_URL', value: 'https://api.example.com/v1?a=1&b=2' },
    { name: 'ANTHROPIC_API_KEY', value: null },
  ];

  it('sh', () => {
    expect(renderEnv('sh', vars)).toBe(
      "export ANTHROPIC_AUTH_TOKEN='t'\\''ok'\n" +
        "export ANTHROPIC_BASE_URL='https://api.example.com/v1?a=1&b=2'\n" +
        'unset ANTHROPIC_API_KEY\n',
    );
  });

  it('fish', () => {
    expect(renderEnv('fish', vars)).toBe(
      "set -gx ANTHROPIC_AUTH_TOKEN 't\\'ok';\n" +
        "set -gx ANTHROPIC_BASE_URL 'https://api.example.com/v1?a=1&b=2';\n" +
        'set -e ANTHROPIC_API_KEY;\n',
    );
  });

  it('powershell', () => {
    expect(renderEnv('powershell', vars)).toBe(
      "$env:ANTHROPIC_AUTH_TOKEN = 't''ok'\n" +
        "$env:ANTHROPIC_BASE_URL = 'https://api.example.com/v1?a=1&b=2'\n" +
        'Remove-Item Env:ANTHROPIC_API_KEY -ErrorAction SilentlyContinue\n',
    );
  });

  it('powershell keeps each statement on one ASCII line (Invoke-Expression runs piped lines one by one)', () => {
    expect(renderEnv('powershell', [{ name: 'A', value: 'x\ny' }])).toBe("$env:A = 'x' + [char]0x000A + 'y'\n");
    expect(renderEnv('powershell', [{ name: 'A', value: '‘😀' }])).toBe(
      "$env:A = '' + [char]0x2018 + [char]::ConvertFromUtf32(0x1F600)\n",
    );
    expect(renderEnv('powershell', [{ name: 'A', value: '' }])).toBe("$env:A = ''\n");
    const out = renderEnv('powershell', varsFor([...NASTY.map((n) => n.value), ...FUZZ], 'V'));
    expect(out).toMatch(/^[\x20-\x7E\n]*$/);
    expect(out.split('\n')).toHaveLength(NASTY.length + FUZZ.length + 1);
  });

  it('powershell output evaluates back exactly under a strict model of the PowerShell grammar it uses', () => {
    const values = [...NASTY.map((n) => n.value), ...FUZZ];
    const vars = [...varsFor(values, 'V'), { name: 'GONE', value: null }];
    const env = evalPowerShellSubset(renderEnv('powershell', vars));
    values.forEach((v, i) => expect(env.get(`V${i}`)).toBe(v));
    expect(env.has('GONE')).toBe(true);
    expect(env.get('GONE')).toBeNull();
  });

  it('cmd', () => {
    expect(
      renderEnv('cmd', [
        { name: 'ANTHROPIC_BASE_URL', value: 'https://x/?a=1&b=2|<>()' },
        { name: 'P', value: 'C:\\Program Files\\x  ' },
        { name: 'E', value: '' },
        { name: 'U', value: null },
      ]),
    ).toBe('set "ANTHROPIC_BASE_URL=https://x/?a=1&b=2|<>()"\nset "P=C:\\Program Files\\x  "\nset "E="\nset U=\n');
  });

  it.each(['"', '%', '!', '^', '\n', '\r', '\x01', '\x1a', '\x7f'])('cmd refuses %j and names safer formats', (ch) => {
    const err = expectUsageError(
      () => renderEnv('cmd', [{ name: 'TOKEN', value: `supersecret${ch}value` }]),
      'TOKEN',
      'cmd',
      '--format powershell',
      '--format json',
    );
    expect(err.message).not.toContain('supersecret');
  });

  it('cmd accepts non-ASCII (no UTF-8 byte can decode to an ASCII metacharacter)', () => {
    expect(renderEnv('cmd', [{ name: 'P', value: 'C:\\Users\\José\\😀' }])).toBe('set "P=C:\\Users\\José\\😀"\n');
  });

  it('dotenv uses single quotes when it can', () => {
    expect(
      renderEnv('dotenv', [
        { name: 'A', value: 'plain $HOME `x` "q" \\ # not a comment' },
        { name: 'B', value: '' },
        { name: 'C', value: null },
      ]),
    ).toBe("A='plain $HOME `x` \"q\" \\ # not a comment'\nB=''\nC=\n");
  });

  it('dotenv falls back to escaped double quotes for single quotes, newlines and CR', () => {
    expect(renderEnv('dotenv', [{ name: 'A', value: `it's "$x" \\ \`y\`` }])).toBe(`A="it's \\"\\$x\\" \\\\ \\\`y\\\`"\n`);
    expect(renderEnv('dotenv', [{ name: 'A', value: 'l1\nl2\r\n' }])).toBe('A="l1\\nl2\\r\\n"\n');
    expect(renderEnv('dotenv', [{ name: 'A', value: 'cr\ronly' }])).toBe('A="cr\\ronly"\n');
  });

  it('dotenv refuses a trailing backslash (readers take it as escaping the closing quote)', () => {
    expectUsageError(() => renderEnv('dotenv', [{ name: 'P', value: 'C:\\dir\\' }]), 'P', 'backslash', '--format json');
    expectUsageError(() => renderEnv('dotenv', [{ name: 'P', value: "it's\\" }]), 'backslash');
    expect(renderEnv('dotenv', [{ name: 'P', value: 'C:\\dir\\x' }])).toBe("P='C:\\dir\\x'\n");
  });

  it('json is one pretty-printed object with null for unset', () => {
    expect(renderEnv('json', vars)).toBe(
      '{\n  "ANTHROPIC_AUTH_TOKEN": "t\'ok",\n  "ANTHROPIC_BASE_URL": "https://api.example.com/v1?a=1&b=2",\n  "ANTHROPIC_API_KEY": null\n}\n',
    );
    expect(renderEnv('json', [])).toBe('{}\n');
  });

  it('json round-trips every nasty value, and a variable named __proto__ stays a key', () => {
    const all = [...varsFor(NASTY.map((n) => n.value), 'V'), { name: '__proto__', value: 'p' }];
    const parsed = JSON.parse(renderEnv('json', all)) as Record<string, unknown>;
    for (const { name, value } of all) expect(Object.getOwnPropertyDescriptor(parsed, name)?.value).toBe(value);
  });

  it('every non-json format: one statement per line, output ends with a newline, empty input → empty output', () => {
    const simple = varsFor(['a', 'b c', "d'e"], 'X');
    for (const format of ENV_FORMATS) {
      expect(renderEnv(format, [])).toBe(format === 'json' ? '{}\n' : '');
      if (format === 'json') continue;
      const out = renderEnv(format, [...simple, { name: 'GONE', value: null }]);
      expect(out.endsWith('\n')).toBe(true);
      expect(out.split('\n')).toHaveLength(5);
    }
  });

  it.each(['', '1ABC', 'A-B', 'A B', 'A=B', 'ÄB', 'A\n', 'A;B', '$A', "A'"])('refuses the variable name %j in every format', (name) => {
    for (const format of ENV_FORMATS) expectUsageError(() => renderEnv(format, [{ name, value: 'x' }]), 'name');
    expectUsageError(() => renderGithubEnvFile([{ name, value: 'x' }]), 'name');
  });

  it('refuses NUL and unpaired surrogates in every format, without echoing the value', () => {
    for (const format of ENV_FORMATS) {
      const nul = expectUsageError(() => renderEnv(format, [{ name: 'T', value: 'secretvalue\0' }]), 'T', 'NUL');
      expect(nul.message).not.toContain('secretvalue');
      expectUsageError(() => renderEnv(format, [{ name: 'T', value: 'x\ud800y' }]), 'surrogate');
    }
  });

  it('validates everything before rendering anything', () => {
    expectUsageError(() => renderEnv('sh', [{ name: 'OK', value: 'x' }, { name: 'BAD-NAME', value: 'y' }]));
  });

  it('refuses an unknown format', () => {
    expectUsageError(() => renderEnv('csh' as EnvFormat, []), 'sh, fish, powershell, cmd, dotenv, json');
  });

  it('ENV_FORMATS lists every format once and is frozen', () => {
    expect([...ENV_FORMATS]).toEqual(['sh', 'fish', 'powershell', 'cmd', 'dotenv', 'json']);
    expect(Object.isFrozen(ENV_FORMATS)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// GitHub Actions $GITHUB_ENV
// ---------------------------------------------------------------------------------------------

/**
 * The runner's SetEnvFileCommand parser (actions/runner FileCommandManager.cs), transcribed: lines
 * end at LF (and at CRLF on Windows runners); `NAME=value`, or `NAME<<DELIM` up to a line equal to DELIM.
 */
function parseGithubEnv(text: string, windows: boolean): Map<string, string> {
  const env = new Map<string, string>();
  let index = 0;
  const readLine = (): { line: string; newline: string } | null => {
    if (index >= text.length) return null;
    const start = index;
    const lf = text.indexOf('\n', index);
    if (lf < 0) {
      index = text.length;
      return { line: text.slice(start), newline: '' };
    }
    const crlf = windows ? text.indexOf('\r\n', index) : -1;
    if (crlf >= 0 && crlf < lf) {
      index = crlf + 2;
      return { line: text.slice(start, crlf), newline: '\r\n' };
    }
    index = lf + 1;
    return { line: text.slice(start, lf), newline: '\n' };
  };
  for (let r = readLine(); r; r = readLine()) {
    const { line } = r;
    if (line === '') continue;
    const eq = line.indexOf('=');
    const heredoc = line.indexOf('<<');
    if (eq >= 0 && (heredoc < 0 || eq < heredoc)) {
      env.set(line.slice(0, eq), line.slice(eq + 1));
    } else if (heredoc >= 0) {
      const name = line.slice(0, heredoc);
      const delim = line.slice(heredoc + 2);
      if (!name || !delim) throw new Error(`bad heredoc line ${line}`);
      const startIndex = index;
      let endIndex = index;
      for (let t = readLine(); ; t = readLine()) {
        if (!t) throw new Error(`delimiter ${delim} not found`);
        if (t.line === delim) break;
        endIndex = index - t.newline.length;
      }
      env.set(name, endIndex > startIndex ? text.slice(startIndex, endIndex) : '');
    } else {
      throw new Error(`invalid line ${line}`);
    }
  }
  return env;
}

describe('renderGithubEnvFile', () => {
  it('uses the heredoc form with the given delimiter, and NAME= for unset', () => {
    const out = renderGithubEnvFile(
      [
        { name: 'A', value: 'x\ny' },
        { name: 'B', value: null },
        { name: 'C', value: '' },
      ],
      () => 'DELIM',
    );
    expect(out).toBe('A<<DELIM\nx\ny\nDELIM\nB=\nC<<DELIM\n\nDELIM\n');
  });

  it('draws a new delimiter while the value contains it', () => {
    const draws = ['EOF', 'ghadelimiter_1', 'ghadelimiter_2'];
    const out = renderGithubEnvFile([{ name: 'A', value: 'x\nEOF\nghadelimiter_1x' }], () => draws.shift() ?? 'never');
    expect(out).toBe('A<<ghadelimiter_2\nx\nEOF\nghadelimiter_1x\nghadelimiter_2\n');
  });

  it('gives up (internal error) on a generator that always collides or returns an unusable delimiter', () => {
    for (const bad of ['EOF', '', 'a\nb', 'a=b', 'a<<b', 'a b']) {
      try {
        renderGithubEnvFile([{ name: 'A', value: 'x EOF' }], () => bad);
        expect.unreachable();
      } catch (err) {
        expect((err as WifError).code).toBe('internal_error');
      }
    }
  });

  it('uses random delimiters by default, a fresh one per variable', () => {
    const out = renderGithubEnvFile(varsFor(['a', 'b'], 'V'));
    const delims = [...out.matchAll(/^V\d<<(.+)$/gm)].map((m) => m[1]);
    expect(delims).toHaveLength(2);
    expect(delims[0]).toMatch(/^ghadelimiter_[0-9a-f-]{36}$/);
    expect(delims[0]).not.toBe(delims[1]);
  });

  it('cannot be tricked into setting other variables, and round-trips exactly on Linux and Windows runners', () => {
    const values = [
      ...NASTY.map((n) => n.value).filter((v) => !v.endsWith('\r')),
      'x\nEVIL=1\nNODE_OPTIONS<<X\n--require /tmp/x\nX',
      'x\r\nEVIL=1\r\n',
      ...FUZZ.filter((v) => !v.endsWith('\r')),
    ];
    const vars = [...varsFor(values, 'V'), { name: 'GONE', value: null }];
    const text = renderGithubEnvFile(vars);
    for (const windows of [false, true]) {
      const env = parseGithubEnv(text, windows);
      expect([...env.keys()]).toEqual(vars.map((v) => v.name));
      values.forEach((v, i) => expect(env.get(`V${i}`)).toBe(v));
      expect(env.get('GONE')).toBe('');
    }
  });

  it('refuses a trailing CR (a Windows runner would drop it) and NUL', () => {
    expectUsageError(() => renderGithubEnvFile([{ name: 'A', value: 'x\r' }]), 'A', 'carriage return');
    expectUsageError(() => renderGithubEnvFile([{ name: 'A', value: 'x\0' }]), 'NUL');
  });
});

// ---------------------------------------------------------------------------------------------
// Round trips through real shells
// ---------------------------------------------------------------------------------------------

interface PosixShell {
  label: string;
  bin: string;
  args: string[];
  /** Required shells fail (not skip) when missing. */
  required: boolean;
}

const POSIX_SHELLS: PosixShell[] = [
  { label: 'bash', bin: 'bash', args: ['--norc', '--noprofile', '-c'], required: true },
  { label: 'bash --posix', bin: 'bash', args: ['--posix', '--norc', '--noprofile', '-c'], required: true },
  { label: 'dash', bin: 'dash', args: ['-c'], required: process.platform === 'linux' },
  { label: 'zsh', bin: 'zsh', args: ['-f', '-c'], required: false },
  // RC_QUOTES makes '' inside single quotes a literal quote; a closing quote in our output is only
  // ever followed by a backslash, a newline or the end, never by another quote.
  { label: 'zsh -o RC_QUOTES', bin: 'zsh', args: ['-f', '-o', 'rcquotes', '-c'], required: false },
  { label: 'zsh --emulate sh', bin: 'zsh', args: ['--emulate', 'sh', '-f', '-c'], required: false },
  { label: 'ksh', bin: 'ksh', args: ['-c'], required: false },
  { label: 'mksh', bin: 'mksh', args: ['-c'], required: false },
  { label: 'busybox ash', bin: 'busybox', args: ['sh', '-c'], required: false },
];

function runPosix(shell: PosixShell, script: string, ...args: string[]): SpawnSyncReturns<Buffer> {
  return spawnSync(shell.bin, [...shell.args, script, shell.bin, ...args], {
    env: shellEnv(),
    cwd: HOME,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10_000,
  });
}

/** A POSIX/fish command printing each named variable NUL-terminated (values never contain NUL). */
const printAll = (names: readonly string[]): string => `printf '%s\\0'${names.map((n) => ` "$${n}"`).join('')}\n`;
const printAllSh = (n: number, prefix: string): string => printAll(Array.from({ length: n }, (_, i) => `${prefix}${i}`));

function skipNote(available: boolean, bin: string): string {
  return available ? '' : ` (skipped: ${bin} is not on PATH)`;
}

const HAS_ENV_0 = spawnSync('env', ['-0'], { env: { PATH: process.env['PATH'] ?? '' }, stdio: 'ignore' }).status === 0;

/** Parses `env -0` output: NAME=value entries, NUL-terminated. */
function parseEnv0(out: Buffer): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of out.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

for (const shell of POSIX_SHELLS) {
  const skip = !shell.required && !hasCommand(shell.bin);
  describe.skipIf(skip)(`sh format in ${shell.label}${skipNote(!skip, shell.bin)}`, () => {
    it.each(NASTY)('round-trips $label byte for byte', ({ value }) => {
      const script = `${renderEnv('sh', [{ name: 'WIF_VALUE', value }])}printf '%s' "$WIF_VALUE"\n`;
      const res = runPosix(shell, script);
      expectClean(res);
      expect(res.stdout).toEqual(Buffer.from(value, 'utf8'));
    });

    it('round-trips every nasty value at once through eval "$(…)"', () => {
      const values = NASTY.map((n) => n.value);
      const rendered = renderEnv('sh', varsFor(values, 'V'));
      // The documented idiom; command substitution strips trailing newlines, the quotes protect values.
      const res = runPosix(shell, `eval "$(printf '%s' "$1")"\n${printAllSh(values.length, 'V')}`, rendered);
      expectClean(res);
      expect(splitNul(res.stdout)).toEqual(values);
    });

    it.skipIf(!HAS_ENV_0)('exports the variables to child processes', () => {
      const values = NASTY.map((n) => n.value);
      const res = runPosix(shell, `${renderEnv('sh', varsFor(values, 'V'))}exec env -0\n`);
      expectClean(res);
      const env = parseEnv0(res.stdout);
      values.forEach((v, i) => expect(env.get(`V${i}`)).toBe(v));
    });

    it('unsets', () => {
      const script = `export WIF_VALUE=x\n${renderEnv('sh', [{ name: 'WIF_VALUE', value: null }])}printf '%s' "\${WIF_VALUE-unset}"\n`;
      const res = runPosix(shell, script);
      expectClean(res);
      expect(res.stdout.toString('utf8')).toBe('unset');
    });

    it('round-trips 300 seeded random strings', () => {
      const res = runPosix(shell, `${renderEnv('sh', varsFor(FUZZ, 'F'))}${printAllSh(FUZZ.length, 'F')}`);
      expectClean(res);
      expect(splitNul(res.stdout)).toEqual(FUZZ);
    });
  });
}

// Pasted into an interactive shell with history expansion on: `!` must stay inert, including on
// the continuation lines of a multi-line value.
const INTERACTIVE = [
  { label: 'bash -i (histexpand)', bin: 'bash', args: ['--norc', '--noprofile', '--noediting', '-i'], setup: 'set -o histexpand\n' },
  { label: 'zsh -i (BANG_HIST)', bin: 'zsh', args: ['-f', '-i'], setup: 'setopt BANG_HIST\n' },
];
for (const shell of INTERACTIVE) {
  const available = hasCommand(shell.bin);
  it.skipIf(!available)(`sh format survives interactive ${shell.label}${skipNote(available, shell.bin)}`, () => {
    const values = [...NASTY.map((n) => n.value), '!!', 'a\n!!\nb', '!-2', 'x\n^x^y', `x\n^x^touch ${MARKER}`, '\n^\n^^'];
    const input = `${shell.setup}echo warmup >/dev/null\n${renderEnv('sh', varsFor(values, 'V'))}${printAllSh(values.length, 'V')}exit\n`;
    const res = spawnSync(shell.bin, shell.args, { env: shellEnv(), cwd: HOME, input, timeout: 10_000 });
    expect(res.error).toBeUndefined();
    // Prompts and job-control warnings go to stderr; only printf writes to stdout.
    expect(splitNul(res.stdout)).toEqual(values);
  });
}

describe('dotenv sourced by bash (set -a; . file)', () => {
  // A trailing backslash is refused for dotenv (see the unit test above).
  const all = [...NASTY.map((n) => n.value), ...FUZZ].filter((v) => !v.endsWith('\\'));

  function source(text: string, names: string[]): SpawnSyncReturns<Buffer> {
    const file = join(HOME, `env-${randomBytes(4).toString('hex')}`);
    writeFileSync(file, text);
    const script = `set -a\n. "$1"\nset +a\n${printAll(names)}`;
    return spawnSync('bash', ['--norc', '--noprofile', '-c', script, 'bash', file], { env: shellEnv(), cwd: HOME, timeout: 10_000 });
  }

  it('round-trips every single-quoted value exactly', () => {
    const values = all.filter((v) => !/['\n\r]/.test(v));
    expect(values.length).toBeGreaterThan(100);
    const vars = varsFor(values, 'D');
    const text = renderEnv('dotenv', vars);
    for (const line of text.split('\n').slice(0, -1)) expect(line).toMatch(/^D\d+='/);
    const res = source(text, vars.map((v) => v.name));
    expectClean(res);
    expect(splitNul(res.stdout)).toEqual(values);
  });

  it('double-quoted values without newlines also read back exactly, and none runs code', () => {
    const oneLine = all.filter((v) => v.includes("'") && !/[\n\r]/.test(v));
    const vars = varsFor(oneLine, 'Q');
    const res = source(renderEnv('dotenv', vars), vars.map((v) => v.name));
    expectClean(res);
    expect(splitNul(res.stdout)).toEqual(oneLine);

    // Multi-line values are not sh syntax (`\n` stays literal) but must still be inert.
    const multi = varsFor(all.filter((v) => /[\n\r]/.test(v)), 'M');
    const res2 = source(renderEnv('dotenv', multi), multi.map((v) => v.name));
    expectClean(res2);
  });
});

// fish: `claude-wif env --format fish | source` is the idiom; also checked through `-c`.
const FISH = hasCommand('fish');
const FISH_ARGS = FISH && spawnSync('fish', ['--no-config', '-c', 'true'], { env: shellEnv(), stdio: 'ignore' }).status === 0 ? ['--no-config'] : [];

function runFish(script: string, ...args: string[]): SpawnSyncReturns<Buffer> {
  return spawnSync('fish', [...FISH_ARGS, '-c', script, ...args], { env: shellEnv(), cwd: HOME, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

describe.skipIf(!FISH)(`fish format in fish${skipNote(FISH, 'fish')}`, () => {
  it.each(NASTY)('round-trips $label byte for byte', ({ value }) => {
    const res = runFish(`${renderEnv('fish', [{ name: 'WIF_VALUE', value }])}printf '%s' "$WIF_VALUE"\n`);
    expectClean(res);
    expect(res.stdout).toEqual(Buffer.from(value, 'utf8'));
  });

  it('round-trips every nasty value at once through `| source` and exports them', () => {
    const values = NASTY.map((n) => n.value);
    const res = runFish(`printf '%s' $argv[1] | source\nexec env -0\n`, renderEnv('fish', varsFor(values, 'V')));
    expectClean(res);
    const env = parseEnv0(res.stdout);
    values.forEach((v, i) => expect(env.get(`V${i}`)).toBe(v));
  });

  it('unsets', () => {
    const res = runFish(`set -gx WIF_VALUE x\n${renderEnv('fish', [{ name: 'WIF_VALUE', value: null }])}set -q WIF_VALUE; or printf unset\n`);
    expectClean(res);
    expect(res.stdout.toString('utf8')).toBe('unset');
  });

  it('round-trips 300 seeded random strings', () => {
    const res = runFish(`${renderEnv('fish', varsFor(FUZZ, 'F'))}${printAllSh(FUZZ.length, 'F')}`);
    expectClean(res);
    expect(splitNul(res.stdout)).toEqual(FUZZ);
  });
});

// pwsh starts slowly (~0.5 s), so everything is checked in two batched scripts.
const PWSH = hasCommand('pwsh');

function runPwsh(rendered: string, names: string[]): string[] {
  // Each variable is reported as `U` (unset) or `S<base64 of UTF-8>`, so no console encoding is involved.
  const report = names
    .map((n) => `$v = $env:${n}; if ($null -eq $v) { $out.Add('U') } else { $out.Add('S' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($v))) }`)
    .join('\n');
  const script = `$ErrorActionPreference = 'Stop'\n${rendered}$out = [Collections.Generic.List[string]]::new()\n${report}\n[Console]::Out.Write($out -join ',')\n`;
  const file = join(HOME, `t-${randomBytes(4).toString('hex')}.ps1`);
  writeFileSync(file, `\ufeff${script}`, 'utf8');
  const res = spawnSync('pwsh', ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', file], {
    env: shellEnv(),
    cwd: HOME,
    timeout: 20_000,
  });
  expect(res.error).toBeUndefined();
  expect(res.stderr.toString('utf8')).toBe('');
  expect(res.status).toBe(0);
  return res.stdout.toString('utf8').split(',');
}

function expectPwshValues(got: string[], values: readonly string[]): void {
  expect(got).toHaveLength(values.length);
  values.forEach((v, i) => {
    // Before PowerShell 7.5, assigning '' to $env:X removes the variable.
    if (v === '' && got[i] === 'U') return;
    expect(Buffer.from(got[i]?.slice(1) ?? '', 'base64').toString('utf8')).toBe(v);
    expect(got[i]?.[0]).toBe('S');
  });
}

describe.skipIf(!PWSH)(`powershell format in pwsh${skipNote(PWSH, 'pwsh')}`, () => {
  it('round-trips every nasty value and unsets', { timeout: 30_000 }, () => {
    const values = NASTY.map((n) => n.value);
    const vars = [...varsFor(values, 'V'), { name: 'GONE', value: null }];
    const got = runPwsh(`$env:GONE = 'x'\n${renderEnv('powershell', vars)}`, vars.map((v) => v.name));
    expect(got.pop()).toBe('U');
    expectPwshValues(got, values);
  });

  it('round-trips 300 seeded random strings', { timeout: 30_000 }, () => {
    const vars = varsFor(FUZZ, 'F');
    expectPwshValues(runPwsh(renderEnv('powershell', vars), vars.map((v) => v.name)), FUZZ);
  });
});
