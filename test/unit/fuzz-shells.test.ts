// Issue 7, item 4 (shell quoting): fast-check, seeded. Random strings — quotes, backslashes,
// newlines, `$()`, backticks, `!`, control characters, any Unicode scalar value, fish's
// private-use range, and working payloads that create a marker file — are rendered by renderEnv
// (and by `claude-wif env` itself, through ANTHROPIC_CUSTOM_HEADERS) and read back by real bash,
// dash, zsh and fish. Each must round-trip byte for byte with nothing on stderr and no command
// run (the marker never appears). shells.test.ts holds the hand-picked cases and a fixed corpus;
// this adds generated ones, with shrinking to a minimal counterexample when one fails.
//
// bash and dash are required on Linux; zsh and fish are skipped, with the reason in the test
// name, where they are not installed (.ci/run installs them when it can).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { accessSync, constants } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeBetaHeader } from '../../src/output/credential-env.js';
import { ENV_FORMATS, renderEnv, type EnvAssignment } from '../../src/output/shells.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { WifError } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { tempHome, type TempHome } from '../helpers/env.js';

let h: TempHome;
let MARKER = '';
const figures: string[] = [];
beforeAll(() => {
  h = tempHome();
  MARKER = join(h.home, 'pwned');
});
afterAll(() => {
  h?.cleanup();
  if (figures.length) console.log(`\nShell quoting fuzz (issue 7 item 4), fast-check seeded:\n${figures.map((f) => `  ${f}`).join('\n')}\n`);
});

function onPath(bin: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

interface Shell {
  name: string;
  bin: string;
  /** Runs `script` (with `arg` as $1 / $argv[1]). */
  args: (script: string, arg: string) => string[];
  format: 'sh' | 'fish';
  /** The idiom a user would type, reading the rendered text from $1 / $argv[1]. */
  idiom: string;
  required: boolean;
}

const SHELLS: Shell[] = [
  { name: 'bash', bin: 'bash', args: (s, a) => ['--norc', '--noprofile', '-c', s, 'bash', a], format: 'sh', idiom: 'eval "$(printf \'%s\' "$1")"', required: true },
  { name: 'dash', bin: 'dash', args: (s, a) => ['-c', s, 'dash', a], format: 'sh', idiom: 'eval "$(printf \'%s\' "$1")"', required: process.platform === 'linux' },
  { name: 'zsh', bin: 'zsh', args: (s, a) => ['-f', '-c', s, 'zsh', a], format: 'sh', idiom: 'eval "$(printf \'%s\' "$1")"', required: false },
  { name: 'fish', bin: 'fish', args: (s, a) => ['--no-config', '-c', s, a], format: 'fish', idiom: "printf '%s' $argv[1] | source", required: false },
];

/** True when a payload ran (the marker exists); removes it, so that shrinking sees each run apart. */
function executed(): boolean {
  if (!existsSync(MARKER)) return false;
  rmSync(MARKER, { force: true });
  return true;
}

/** Prints each variable NUL-terminated (the values never contain NUL). Same syntax in sh and fish. */
const printAll = (names: string[]) => `printf '%s\\0'${names.map((n) => ` "$${n}"`).join('')}\n`;

function runShell(shell: Shell, script: string, arg = ''): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(shell.bin, shell.args(script, arg), {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: h.home, LANG: 'C.UTF-8' },
    cwd: h.home,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10_000,
  });
  return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), status: r.status };
}

// ------------------------------------------------------------------------------------------------
// Generated values
// ------------------------------------------------------------------------------------------------

const isScalar = (cp: number) => cp < 0xd800 || cp > 0xdfff;
const DANGEROUS = () => [
  ...`'"\\$\`(){}[];&|<>!*?~#%^=-+ \t\n\r:@,.`.split(''),
  '\u2018', '\u2019', '\u201c', '\u2028', '\u0085', '\x1b', '\x7f', '\n^', '!!', '!$', '$(', '${', '$((', "'\\''", "\\'", '\\\\', 'EOF',
  `$(touch ${MARKER})`, `\`touch ${MARKER}\``, `'; touch ${MARKER}; '`, `"; touch ${MARKER}; "`, `(touch ${MARKER})`, `\\'; touch ${MARKER}; #`, `\ntouch ${MARKER}\n`,
];
/** One piece of a value. */
const piece = () =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...DANGEROUS()) },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 0x1f }).map((c) => String.fromCharCode(c)) },
    { weight: 1, arbitrary: fc.integer({ min: 0xf600, max: 0xf73f }).map((c) => String.fromCodePoint(c)) }, // fish's private-use range for raw bytes
    { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0x10ffff }).filter(isScalar).map((c) => String.fromCodePoint(c)) },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,6}$/) },
  );
const value = () => fc.array(piece(), { maxLength: 12 }).map((p) => p.join(''));
const values = () => fc.array(value(), { minLength: 1, maxLength: 25 });

async function check<T>(label: string, prop: fc.IAsyncPropertyWithHooks<T> | fc.IPropertyWithHooks<T>, seed: number, numRuns: number): Promise<void> {
  const t0 = performance.now();
  const out = await fc.check(prop as fc.IAsyncPropertyWithHooks<T>, { seed, numRuns, interruptAfterTimeLimit: 15_000, markInterruptAsFailure: false });
  if (out.failed) throw new Error(fc.defaultReportMessage(out) ?? `${label}: property failed`);
  figures.push(`${label}: ${out.numRuns} runs (seed ${seed})${out.interrupted ? ', stopped by the time limit' : ''}, ${(performance.now() - t0).toFixed(0)} ms`);
}

/** Runs the rendered assignments through `shell` and returns what it read back, or why not. */
function roundTrip(shell: Shell, vars: EnvAssignment[], viaIdiom: boolean): string[] {
  const rendered = renderEnv(shell.format, vars);
  const names = vars.map((v) => v.name);
  const r = viaIdiom ? runShell(shell, `${shell.idiom}\n${printAll(names)}`, rendered) : runShell(shell, `${rendered}${printAll(names)}`);
  if (executed()) throw new Error(`${shell.name} ran a command hidden in a value`);
  if (r.status !== 0 || r.stderr) throw new Error(`${shell.name} exited ${r.status}: ${r.stderr}`);
  return r.stdout.split('\0').slice(0, -1);
}

describe('fuzz: renderEnv round trips through real shells', () => {
  for (const [i, shell] of SHELLS.entries()) {
    const available = onPath(shell.bin);
    const skip = !available && !shell.required;
    it.skipIf(skip)(`${shell.name} (--format ${shell.format})${skip ? ` — skipped: ${shell.bin} is not installed` : ''}`, async () => {
      expect(available, `${shell.bin} is required on this platform`).toBe(true);
      await check(
        `${shell.name}: ${shell.format} output read back exactly, nothing executed`,
        fc.property(values(), fc.boolean(), (vals, viaIdiom) => {
          const got = roundTrip(shell, vals.map((v, k) => ({ name: `WIF_V${k}`, value: v })), viaIdiom);
          expect(got).toEqual(vals);
        }),
        0x5e11 + i,
        30,
      );
    });
  }
});

describe('fuzz: renderEnv on arbitrary UTF-16 (lone surrogates, NUL)', () => {
  it('renders, or refuses with usage_error; never anything else', async () => {
    let refused = 0;
    await check(
      'renderEnv × every format × arbitrary code units',
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom(...ENV_FORMATS), (v, format) => {
        try {
          renderEnv(format, [{ name: 'WIF_V', value: v }]);
          if (v.includes('\0') || /\p{Cs}/u.test(v)) throw new Error(`rendered a value no environment can hold: ${JSON.stringify(v)}`);
        } catch (err) {
          if (!(err instanceof WifError) || err.code !== 'usage_error') throw err;
          refused++;
        }
      }),
      0xb17,
      2000,
    );
    figures.push(`  (${refused} refusals with usage_error)`);
  });
});

// ------------------------------------------------------------------------------------------------
// The CLI: `claude-wif env` renders ANTHROPIC_CUSTOM_HEADERS from the caller's environment
// ------------------------------------------------------------------------------------------------

describe('fuzz: `claude-wif env` through real shells', () => {
  let sandbox: Sandbox;
  let env: Record<string, string>;
  let token = '';
  beforeAll(async () => {
    sandbox = await startSandbox();
    const configDir = join(h.home, 'cli', 'config');
    mkdirSync(join(configDir, 'configs'), { recursive: true });
    const jwtFile = join(h.home, 'cli', 'jwt');
    writeFileSync(jwtFile, await sandbox.mint({ lifetimeSeconds: 3600 }), { mode: 0o600 });
    writeFileSync(join(configDir, 'configs', 'default.json'), JSON.stringify(sandbox.profile({ identityTokenPath: jwtFile })));
    env = { PATH: process.env['PATH'] ?? '', HOME: join(h.home, 'cli'), ANTHROPIC_CONFIG_DIR: configDir };
    const t = await runCli(['token'], env);
    expect(t.code, t.stderr).toBe(0);
    token = t.stdout.trim();
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  for (const [i, shell] of SHELLS.entries()) {
    const skip = !onPath(shell.bin);
    it.skipIf(skip)(`env --format ${shell.format} in ${shell.name}${skip ? ` — skipped: ${shell.bin} is not installed` : ''}`, async () => {
      await check(
        `claude-wif env --format ${shell.format} → ${shell.name}: ANTHROPIC_CUSTOM_HEADERS and the token read back exactly`,
        fc.asyncProperty(value(), async (headers) => {
          const r = await runCli(['env', '--format', shell.format], { ...env, ANTHROPIC_CUSTOM_HEADERS: headers });
          if (r.code !== 0) {
            // Only a value no environment can carry may be refused (there are none in this domain).
            throw new Error(`env exited ${r.code}: ${r.stderr}`);
          }
          const names = ['ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_CUSTOM_HEADERS'];
          const out = runShell(shell, `${shell.idiom}\n${printAll(names)}`, r.stdout);
          if (executed()) throw new Error(`${shell.name} ran a command hidden in a header`);
          expect(out.stderr).toBe('');
          expect(out.stdout.split('\0').slice(0, -1)).toEqual([token, mergeBetaHeader(headers === '' ? undefined : headers)]);
        }),
        0xe27 + i,
        15,
      );
    });
  }
});
