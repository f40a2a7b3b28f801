import { didYouMean } from '../util/suggest.js';
import type { Interface } from 'node:readline';
import { WifError } from '../util/errors.js';
import type { IO } from './io.js';

/**
 * Line prompts on stderr, answers from stdin. Only used when stdin and stderr are both
 * terminals (ARCHITECTURE.md §3); everything else takes flags. Never used for secrets: nothing
 * configure asks for is one.
 */
export interface Prompter {
  /**
   * Asks until validate accepts. Enter alone takes the default; "-" clears an optional value
   * (returned as ""). validate returns an error message, or undefined when the value is good.
   */
  ask(question: string, opts?: { default?: string | undefined; validate?: (v: string) => string | undefined; choices?: string[]; optional?: boolean }): Promise<string>;
  confirm(question: string, def: boolean): Promise<boolean>;
  close(): void;
}

export function cancelled(): WifError {
  return new WifError('usage_error', 'configure was cancelled; nothing was written', { hint: 'run it again, or pass every value as a flag (see `claude-wif configure --help`)' });
}

export async function createPrompter(io: IO): Promise<Prompter> {
  const { createInterface } = await import('node:readline');
  if (!io.stdin) throw new WifError('internal_error', 'no standard input to read answers from');
  let completions: string[] = [];
  const rl: Interface = createInterface({
    input: io.stdin,
    output: io.stderr as NodeJS.WritableStream,
    terminal: true,
    // Tab completes the current question's choices (identity sources, yes/no).
    completer: (line: string) => [completions.filter((c) => c.startsWith(line)), line],
  });
  let closed = false;
  let pending: ((err: Error) => void) | undefined;
  rl.on('close', () => {
    closed = true;
    pending?.(cancelled());
  });
  rl.on('SIGINT', () => {
    io.stderr.write('\n');
    rl.close();
  });
  const line = (q: string) =>
    new Promise<string>((resolve, reject) => {
      if (closed) return reject(cancelled());
      pending = reject;
      rl.question(q, (answer) => {
        pending = undefined;
        resolve(answer.trim());
      });
    });

  return {
    async ask(question, opts = {}) {
      completions = opts.choices ?? [];
      const def = opts.default;
      const hint = opts.optional ? (def ? ' ("-" to clear)' : ' (optional)') : '';
      for (;;) {
        const raw = await line(`${question}${hint}${def ? ` [${def}]` : ''}: `);
        let value = raw === '' ? (def ?? '') : raw;
        if (opts.optional && raw === '-') value = '';
        if (value === '' && !opts.optional) {
          io.stderr.write('  a value is required\n');
          continue;
        }
        if (value !== '' && opts.choices && !opts.choices.includes(value)) {
          io.stderr.write(`  ${JSON.stringify(value)} is not a choice${didYouMean(value, opts.choices)}; choose one of: ${opts.choices.join(', ')}\n`);
          continue;
        }
        const err = value === '' ? undefined : opts.validate?.(value);
        if (err) {
          io.stderr.write(`  ${err}\n`);
          continue;
        }
        return value;
      }
    },
    async confirm(question, def) {
      completions = ['yes', 'no'];
      for (;;) {
        const a = (await line(`${question} [${def ? 'Y/n' : 'y/N'}]: `)).toLowerCase();
        if (a === '') return def;
        if (a === 'y' || a === 'yes') return true;
        if (a === 'n' || a === 'no') return false;
        io.stderr.write('  answer y or n\n');
      }
    },
    close() {
      if (!closed) {
        closed = true;
        rl.close();
      }
    },
  };
}
