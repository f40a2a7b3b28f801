// The child of the exec signal matrix (exec-matrix.test.ts). Everything it sees is appended to
// $MATRIX_LOG as well as printed, so that a test can read it after the terminal is gone.
//   start <pid> <ppid> <ANTHROPIC_CONFIG_DIR or ->     on start (also printed as "ready …")
//   got <SIGNAL> <n>                                   for each INT, TERM, HUP received
// MATRIX_MODE=trap (default): the first INT/TERM/HUP ends the process after SETTLE_MS (default
//   300, so that a duplicate delivery would be seen) with exit code 100 + the signal number.
// MATRIX_MODE=ignore-term: SIGTERM is logged and otherwise ignored; INT and HUP as in trap.
import { appendFileSync } from 'node:fs';
import { constants } from 'node:os';

const log = process.env.MATRIX_LOG;
const mode = process.env.MATRIX_MODE ?? 'trap';
const settle = Number(process.env.SETTLE_MS ?? 300);
// The terminal may be gone (a hangup): writing to it must not kill this process.
process.stdout.on('error', () => {});
const say = (line) => {
  if (log) appendFileSync(log, `${line}\n`);
  try {
    process.stdout.write(`${line}\n`);
  } catch {
    /* no terminal any more */
  }
};
const counts = {};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    counts[sig] = (counts[sig] ?? 0) + 1;
    say(`got ${sig} ${counts[sig]}`);
    if (counts[sig] === 1 && !(mode === 'ignore-term' && sig === 'SIGTERM')) {
      setTimeout(() => process.exit(100 + constants.signals[sig]), settle);
    }
  });
}
say(`start ${process.pid} ${process.ppid} ${process.env.ANTHROPIC_CONFIG_DIR ?? '-'}`);
say(`ready ${process.pid} ${process.env.ANTHROPIC_CONFIG_DIR ?? '-'}`);
setInterval(() => {}, 1000);
