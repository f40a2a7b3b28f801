// Entry of the GitHub Action bundle (action/claude-wif-action.cjs): the action's main and post
// steps, and the whole CLI for the `claude-wif` the action puts on PATH.
import { actionMain, actionPost, runStep, type ActionIO } from './action.js';
import { run } from '../cli/main.js';
import { processIO } from '../cli/io.js';

function io(): ActionIO {
  return { env: process.env, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), node: process.execPath, cli: __filename };
}

export function main(): void {
  void runStep(actionMain, io()).then((code) => (process.exitCode = code));
}

export function post(): void {
  void runStep(actionPost, io()).then((code) => (process.exitCode = code));
}

export function cli(argv: string[]): void {
  void run(argv, processIO()).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`claude-wif: internal error: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) cli(process.argv.slice(2));
