import { readFile, open } from 'node:fs/promises';
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serveIdentityFifo, type IdentityFifo } from '../../src/run/identity-fifo.js';

// The federation identity pipe: one freshly minted JWT per open, never two JWTs to one reader,
// never one JWT to two readers that come one after the other.

let dir: string | undefined;
let fifo: IdentityFifo | undefined;
afterEach(async () => {
  await fifo?.close();
  fifo = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const log = { debug: () => {}, warn: () => {} };

async function start(): Promise<{ path: string; minted: string[] }> {
  dir = mkdtempSync(join(tmpdir(), 'claude-wif-fifo-test-'));
  const path = join(dir, 'identity-token.jwt');
  const minted: string[] = [];
  fifo = await serveIdentityFifo({
    path,
    mint: async () => {
      const jwt = `jwt-${minted.length + 1}`;
      minted.push(jwt);
      return jwt;
    },
    log,
  });
  return { path, minted };
}

describe('identity pipe', () => {
  it('is a 0600 FIFO; each read (readFile, as the TypeScript SDK does) gets its own new JWT', async () => {
    const { path, minted } = await start();
    const st = lstatSync(path);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push((await readFile(path, 'utf8')).trim());
    expect(got).toEqual(['jwt-1', 'jwt-2', 'jwt-3', 'jwt-4', 'jwt-5']);
    expect(minted).toHaveLength(5);
    expect(fifo!.served).toBe(5);
  });

  it('a slow reader gets exactly one JWT even when the next reader arrives before it finished', async () => {
    const { path } = await start();
    const slow = await open(path, 'r');
    // The writer has attached to `slow` and moved the path to a new FIFO: the next reader waits there.
    await new Promise((r) => setTimeout(r, 100));
    const next = readFile(path, 'utf8');
    await new Promise((r) => setTimeout(r, 100));
    const first = (await slow.readFile('utf8')).trim();
    await slow.close();
    expect(first).toBe('jwt-1');
    expect((await next).trim()).toBe('jwt-2');
  });

  it('close() unblocks the waiting writer and leaves only the FIFO for the caller to remove', async () => {
    const { path } = await start();
    expect((await readFile(path, 'utf8')).trim()).toBe('jwt-1');
    const t = Date.now();
    await fifo!.close();
    expect(Date.now() - t).toBeLessThan(1000);
    expect(readdirSync(dir!)).toEqual(['identity-token.jwt']);
    expect(lstatSync(path).isFIFO()).toBe(true);
  });

  it('a mint failure gives that reader an empty file, and the next reader a JWT', async () => {
    dir = mkdtempSync(join(tmpdir(), 'claude-wif-fifo-test-'));
    const path = join(dir, 'identity-token.jwt');
    let n = 0;
    const warnings: string[] = [];
    fifo = await serveIdentityFifo({
      path,
      mint: async () => {
        if (++n === 1) throw new Error('platform unavailable');
        return `jwt-${n}`;
      },
      log: { debug: () => {}, warn: (m) => warnings.push(m) },
    });
    expect(await readFile(path, 'utf8')).toBe('');
    expect((await readFile(path, 'utf8')).trim()).toBe('jwt-2');
    expect(warnings.join('\n')).toMatch(/could not mint an identity JWT .*platform unavailable/);
    expect(fifo.failures).toBe(1);
  });
});
