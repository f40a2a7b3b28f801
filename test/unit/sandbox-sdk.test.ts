import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';

// Fidelity check: the official TypeScript SDK, with its own federation code, must be able to
// exchange against the sandbox and consume its Messages responses (plain and streamed). The SDK
// computes expiry from the real clock, so this sandbox runs on the real clock too.

let sb: Sandbox;
let dir: string;
beforeAll(async () => {
  sb = await startSandbox({ streamDelayMs: 1 });
  dir = mkdtempSync(join(tmpdir(), 'claude-wif-sandbox-sdk-'));
});
afterAll(async () => {
  await sb.close();
  rmSync(dir, { recursive: true, force: true });
});

async function client(): Promise<Anthropic> {
  const tokenPath = join(dir, `token-${Math.random().toString(36).slice(2)}`);
  writeFileSync(tokenPath, await sb.mint(), { mode: 0o600 });
  return new Anthropic({ config: sb.profile({ identityTokenPath: tokenPath }) as any, maxRetries: 0 });
}

describe('official SDK against the sandbox', () => {
  it('exchanges with both betas and calls Messages with the oauth beta', async () => {
    const before = sb.exchanges.length;
    const anthropic = await client();
    const msg = await anthropic.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 32, messages: [{ role: 'user', content: 'hi' }] });
    expect(msg.content[0]).toEqual({ type: 'text', text: 'Hello from the claude-wif sandbox (workspace wrkspc_sandboxdefault).' });
    const exchanges = sb.exchanges.slice(before);
    expect(exchanges.map((e) => e.status)).toEqual([200]);
    expect(exchanges[0]!.headers['anthropic-beta']).toBe('oauth-2025-04-20,oidc-federation-2026-04-01');
    const call = sb.apiCalls[sb.apiCalls.length - 1]!;
    expect(call.status).toBe(200);
    expect(call.headers['anthropic-beta']).toContain('oauth-2025-04-20');
  });

  it('consumes the SSE stream', async () => {
    const anthropic = await client();
    const stream = anthropic.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 32, messages: [{ role: 'user', content: 'hi' }] });
    const pieces: string[] = [];
    stream.on('text', (t) => pieces.push(t));
    const final = await stream.finalMessage();
    expect(pieces.length).toBeGreaterThanOrEqual(2);
    expect(pieces.join('')).toBe('Hello from the claude-wif sandbox (workspace wrkspc_sandboxdefault).');
    expect(final.stop_reason).toBe('end_turn');
  });

  it('surfaces the generic 401 the SDK expects for a denied assertion', async () => {
    const tokenPath = join(dir, 'foreign-token');
    writeFileSync(tokenPath, await sb.mint({ sub: 'repo:someone-else/app' }), { mode: 0o600 });
    const anthropic = new Anthropic({ config: sb.profile({ identityTokenPath: tokenPath }) as any, maxRetries: 0 });
    await expect(anthropic.models.list()).rejects.toThrow(/401.*request-id req_sandbox_\d+.*Authentication failed/s);
    expect(sb.exchanges[sb.exchanges.length - 1]!.reason).toBe('subject_mismatch');
  });
});
