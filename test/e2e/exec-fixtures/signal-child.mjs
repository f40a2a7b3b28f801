// Reports every signal it receives on stdout ("got SIGUSR1 1"), after announcing "ready <pid> <config dir>".
// SIGNAL_CHILD_MODE=trap (default): INT and TERM are handled too, and end the process with
//   EXIT_CODE (default 7) after SETTLE_MS (default 0), so a duplicate delivery would be seen.
// SIGNAL_CHILD_MODE=default: INT and TERM keep their default action (the child dies of them).
const trap = (process.env.SIGNAL_CHILD_MODE ?? 'trap') === 'trap';
const counts = {};
const signals = ['SIGUSR1', 'SIGUSR2', 'SIGHUP', 'SIGWINCH', 'SIGQUIT', ...(trap ? ['SIGINT', 'SIGTERM'] : [])];
for (const s of signals) {
  process.on(s, () => {
    counts[s] = (counts[s] ?? 0) + 1;
    process.stdout.write(`got ${s} ${counts[s]}\n`);
    if ((s === 'SIGINT' || s === 'SIGTERM') && counts[s] === 1) {
      setTimeout(() => process.exit(Number(process.env.EXIT_CODE ?? 7)), Number(process.env.SETTLE_MS ?? 0));
    }
  });
}
process.stdout.write(`ready ${process.pid} ${process.env.ANTHROPIC_CONFIG_DIR ?? '-'}\n`);
setInterval(() => {}, 1000);
