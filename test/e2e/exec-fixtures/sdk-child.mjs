// A long-running application built on the official SDK, knowing nothing about federation: it
// constructs `new Anthropic()` and calls Messages every CALL_EVERY_MS until RUN_FOR_MS have passed.
// Prints one JSON line with what happened; exits 1 if any call failed.
import Anthropic from '@anthropic-ai/sdk';

const runFor = Number(process.env.RUN_FOR_MS ?? 0);
const every = Number(process.env.CALL_EVERY_MS ?? 1000);
const client = new Anthropic({ maxRetries: 0 });
const started = Date.now();
const calls = [];
do {
  const at = Date.now();
  try {
    const msg = await client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    calls.push({ at, ok: msg.type === 'message' });
  } catch (err) {
    calls.push({ at, ok: false, error: String(err && err.message).slice(0, 300) });
  }
  if (Date.now() - started >= runFor) break;
  await new Promise((resolve) => setTimeout(resolve, every));
} while (true);
const failed = calls.filter((c) => !c.ok);
process.stdout.write(`${JSON.stringify({ started, ended: Date.now(), ok: calls.length - failed.length, failed: failed.length, errors: failed.slice(0, 5) })}\n`);
process.exitCode = failed.length ? 1 : 0;
