// Runs every benchmark in one go and prints the measured numbers with the machine they ran on.
// `npm run bench` (builds first); `npm run bench -- --write` also rewrites the generated "Latest
// run" section of bench/README.md from this run. Exit status is non-zero when a target is missed.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { startupBench } from './startup.mjs';
import { stormBench } from './storm.mjs';
import { proxyBench } from './proxy.mjs';
import { agentRssBench } from './agent-rss.mjs';
import { crashStorm } from './crash-storm.mjs';
import { coldBench } from './cold.mjs';
import { execRssBench } from './exec-rss.mjs';
import { auditBench } from './audit.mjs';
import { csiBench } from './csi.mjs';

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${process.platform}`;
console.log(`machine: ${machine}`);

/** Each benchmark: the command that runs it alone, and its function. */
const BENCHMARKS = [
  { command: 'node bench/startup.mjs', run: () => startupBench({ rounds: Number(process.env.ROUNDS ?? 40) }) },
  { command: 'node bench/cold.mjs', run: () => coldBench({ rounds: Number(process.env.COLD_ROUNDS ?? 20) }) },
  { command: 'node bench/storm.mjs', run: () => stormBench({ n: Number(process.env.N ?? 50) }) },
  { command: 'N=200 node bench/storm.mjs', run: () => stormBench({ n: 200 }) },
  // Issue 15 item 12: a slow token endpoint must never get the single-use assertion twice.
  { command: 'N=5 DELAY_MS=12000 node bench/storm.mjs', run: () => stormBench({ n: 5, delayMs: 12_000 }) },
  { command: 'N=200 DELAY_MS=2000 MIN_OK=95 node bench/storm.mjs', run: () => stormBench({ n: 200, delayMs: 2_000, minOkPercent: 95 }) },
  { command: 'node bench/proxy.mjs', run: () => proxyBench({ rate: Number(process.env.RATE ?? 300), n: Number(process.env.PROXY_N ?? 2000), sse: Number(process.env.SSE ?? 200) }) },
  { command: 'node bench/exec-rss.mjs', run: () => execRssBench({ rounds: 5 }) },
  { command: 'node bench/agent-rss.mjs', run: () => agentRssBench({ cycles: Number(process.env.CYCLES ?? 10_000) }) },
  { command: 'node bench/audit.mjs', run: () => auditBench({ files: Number(process.env.AUDIT_FILES ?? 50_000), rounds: Number(process.env.AUDIT_ROUNDS ?? 3) }) },
  { command: 'node bench/csi.mjs', run: () => csiBench({ agents: Number(process.env.AGENTS ?? 100) }) },
  { command: 'node bench/crash-storm.mjs', run: () => crashStorm({ n: Number(process.env.CRASH_N ?? 200) }) },
];

const only = process.env.ONLY ? new Set(process.env.ONLY.split(',')) : undefined;
const results = [];
for (const b of BENCHMARKS) {
  if (only && ![...only].some((o) => b.command.includes(o))) continue;
  const r = await b.run();
  results.push({ ...r, command: b.command });
  console.log(`${r.pass ? 'PASS' : 'MISS'}  ${r.name}: ${r.summary}`);
}

const START = '<!-- generated:start (npm run bench -- --write) -->';
const END = '<!-- generated:end -->';
if (process.argv.includes('--write')) {
  const file = new URL('./README.md', import.meta.url);
  const text = readFileSync(file, 'utf8');
  const rows = results.map((r) => `| ${r.name} | \`${r.command}\` | ${r.summary} | ${r.pass ? 'met' : '**missed**'} |`);
  const section = `${START}
## Latest run

${new Date().toISOString().slice(0, 10)}, ${machine}${only ? ` (only: ${[...only].join(', ')})` : ''}.

| benchmark | command | measured (median and spread) | target |
|---|---|---|---|
${rows.join('\n')}
${END}`;
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  const next = a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + END.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  console.log('updated the generated section of bench/README.md');
}
if (process.env.BENCH_JSON) console.log(JSON.stringify({ machine, results }, null, 2));
process.exitCode = results.every((r) => r.pass) ? 0 : 1;
