import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bwrapArgs, INSIDE_PROXY_SOCKET, isolationLayout, probeIsolation, requireIsolation } from '../../src/run/isolation.js';

const root = mkdtempSync(join(tmpdir(), 'claude-wif-iso-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('isolation layout', () => {
  const home = join(root, 'home', 'me');
  const other = join(root, 'home', 'neighbour');
  const work = join(home, 'project');
  const tools = join(root, 'home', 'neighbour', 'tools', 'node_modules');
  for (const d of [join(home, '.config', 'anthropic', 'credentials'), join(home, '.cache', 'claude-wif', 'ledger'), join(home, '.claude'), other, work, join(tools, '.bin'), join(root, 'spire')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(home, '.claude', '.credentials.json'), '{}');
  writeFileSync(join(tools, '.bin', 'mytool'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(root, 'spire', 'agent.sock'), '');
  const layout = isolationLayout({
    env: { HOME: home, PATH: `${join(tools, '.bin')}:/usr/bin` },
    cwd: work,
    materialFiles: [join(root, 'spire', 'agent.sock'), join(root, 'absent.jwt')],
    network: 'none',
    proxySocket: '/run/x/proxy.sock',
    homesRoot: join(root, 'home'),
    privateTmp: [],
    command: 'mytool',
  });

  it('hides the config dir, the token caches, Claude Code’s login, identity files and other users’ homes', () => {
    expect(layout.hideDirs).toEqual(expect.arrayContaining([join(home, '.config', 'anthropic'), join(home, '.cache', 'claude-wif'), other]));
    expect(layout.hideDirs).not.toContain(home);
    expect(layout.hideFiles).toEqual(expect.arrayContaining([join(home, '.claude', '.credentials.json')]));
    // an identity socket or file goes with its directory (a rename over a masked file would uncover it)
    expect(layout.hideDirs).toContain(join(root, 'spire'));
    expect(layout.hideFiles).not.toContain(join(root, 'absent.jwt')); // nothing there to hide
    expect(layout.writable).toEqual([work, join(home, '.claude')]);
    // the command's own installation, although under another user's home, stays visible
    expect(layout.expose).toEqual([tools]);
  });

  it('bubblewrap arguments: every namespace, no capabilities, read-only root, masks after binds', () => {
    const a = bwrapArgs(layout);
    const joined = a.join(' ');
    for (const f of ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net', '--new-session', '--die-with-parent']) expect(a).toContain(f);
    expect(joined).toContain('--cap-drop ALL');
    expect(joined).toContain('--ro-bind / /');
    expect(joined).toContain('--proc /proc');
    expect(joined).toContain('--tmpfs /tmp');
    expect(joined).toContain(`--bind /run/x/proxy.sock ${INSIDE_PROXY_SOCKET}`);
    expect(joined).toContain(`--chdir ${work}`);
    const at = (s: string) => a.indexOf(s);
    // A hidden directory is mounted after the writable binds (so a writable parent cannot uncover it).
    expect(a.lastIndexOf(join(home, '.config', 'anthropic'))).toBeGreaterThan(at('--bind'));
    expect(bwrapArgs({ ...layout, network: 'host' })).toContain('--share-net');
  });
});

describe('probeIsolation', () => {
  it('says why isolation is unavailable, and requireIsolation refuses with exit 6', () => {
    const p = probeIsolation({ CLAUDE_WIF_BWRAP: join(root, 'no-bwrap') });
    expect(p.ok).toBe(false);
    expect(() => requireIsolation(p)).toThrow(expect.objectContaining({ code: 'isolation_unavailable', exitCode: 6 }));
    const mac = probeIsolation({}, 'darwin');
    expect(mac).toMatchObject({ ok: false, reason: expect.stringContaining('darwin') });
  });
});
