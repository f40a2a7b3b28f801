// Runs every benchmark in one go and prints the measured numbers with the machine they ran on.
// `npm run bench` (builds first). Exit status is non-zero when a target is missed.
import { cpus, totalmem } from 'node:os';
import { startupBench } from './startup.mjs';
import { stormBench } from './storm.mjs';
import { proxyBench } from './proxy.mjs';
import { agentRssBench } from './agent-rss.mjs';

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${process.platform}`;
console.log(`machine: ${machine}`);
const results = [];
for (const [name, fn] of [
  ['startup', () => startupBench({ rounds: Number(process.env.ROUNDS ?? 40) })],
  ['storm', () => stormBench({ n: Number(process.env.N ?? 50) })],
  ['proxy', () => proxyBench({ rate: Number(process.env.RATE ?? 300), n: Number(process.env.PROXY_N ?? 2000), sse: Number(process.env.SSE ?? 200) })],
  ['agent-rss', () => agentRssBench({ cycles: Number(process.env.CYCLES ?? 10_000) })],
]) {
  const r = await fn();
  results.push(r);
  console.log(`${r.pass ? 'PASS' : 'MISS'}  ${r.name}: ${r.summary}`);
}
if (process.env.BENCH_JSON) console.log(JSON.stringify({ machine, results }, null, 2));
process.exitCode = results.every((r) => r.pass) ? 0 : 1;
