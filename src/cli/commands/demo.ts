import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandContext } from '../context.js';
import { startSandboxWithIdentityFile } from '../../sandbox/identity-file.js';
import { ACCESS_TOKEN_PREFIX } from '../../protocol.js';
import { decodeJwt } from '../../util/jwt.js';
import { redact } from '../../util/redact.js';
import { WifError } from '../../util/errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../../util/fsx.js';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a process without blocking this one's event loop (the sandbox is served from here). */
function runProcess(file: string, args: string[], env: Record<string, string | undefined>): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, args, { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// The child of the last step: an ordinary program that knows nothing about federation. It reads
// the variables `claude-wif env` printed and calls the Messages API with them.
const CHILD = `
const headers = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', authorization: 'Bearer ' + process.env.ANTHROPIC_AUTH_TOKEN };
for (const line of (process.env.ANTHROPIC_CUSTOM_HEADERS || '').split('\\n')) {
  const i = line.indexOf(':'); if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
}
const res = await fetch(process.env.ANTHROPIC_BASE_URL + '/v1/messages', { method: 'POST', headers,
  body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hello?' }] }) });
const body = await res.json();
if (!res.ok) { console.error('API call failed: ' + res.status + ' ' + JSON.stringify(body)); process.exit(1); }
console.log(body.content[0].text);
`;

// The child of the exec step: an application that uses the official SDK when it is installed
// (npm start in the repository) and otherwise does by hand what the SDKs do with a user_oauth
// profile: read credentials/<profile>.json from ANTHROPIC_CONFIG_DIR, send Bearer + oauth beta.
const EXEC_CHILD = `
import { readFileSync, statSync } from 'node:fs';
const dir = process.env.ANTHROPIC_CONFIG_DIR, profile = process.env.ANTHROPIC_PROFILE;
const request = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hello from exec?' }] };
let text, via;
let Anthropic;
try { Anthropic = (await import('@anthropic-ai/sdk')).default; } catch {}
if (Anthropic) {
  const msg = await new Anthropic({ maxRetries: 0 }).messages.create(request);
  text = msg.content[0].text; via = '@anthropic-ai/sdk, new Anthropic() with no arguments';
} else {
  const cred = JSON.parse(readFileSync(dir + '/credentials/' + profile + '.json', 'utf8'));
  const res = await fetch(process.env.ANTHROPIC_BASE_URL + '/v1/messages', { method: 'POST', body: JSON.stringify(request), headers: {
    'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'oauth-2025-04-20', authorization: 'Bearer ' + cred.access_token } });
  const body = await res.json();
  if (!res.ok) { console.error('API call failed: ' + res.status + ' ' + JSON.stringify(body)); process.exit(1); }
  text = body.content[0].text; via = 'fetch, reading the profile as the SDKs do';
}
console.log(JSON.stringify({ text, via, dir, mode: (statSync(dir).mode & 0o777).toString(8), profile, marker: process.env.CLAUDE_WIF_EXEC_PROFILE, apiKeySeen: 'ANTHROPIC_API_KEY' in process.env }));
`;

/**
 * `npm start` / `claude-wif sandbox --demo`: the whole flow against the local sandbox, each step
 * explained on stderr. Uses the real binary for every claude-wif step, in a throwaway config dir.
 */
export async function runDemo(ctx: CommandContext): Promise<number> {
  const say = (s: string) => ctx.io.stderr.write(`${s}\n`);
  const self = ctx.io.proc.script;
  if (!self) throw new WifError('internal_error', 'the demo runs claude-wif again, but the script this process was started from is unknown');
  const node = ctx.io.proc.execPath;
  const work = mkdtempSync(join(tmpdir(), 'claude-wif-demo-'));
  const configDir = join(work, 'config');
  const env: Record<string, string | undefined> = {
    PATH: ctx.io.env['PATH'],
    HOME: work,
    ANTHROPIC_CONFIG_DIR: configDir,
    CLAUDE_WIF_CACHE_DIR: join(work, 'cache'),
    NO_COLOR: '1',
  };
  const running = await startSandboxWithIdentityFile({ identityDir: join(work, 'identity'), name: 'demo', jwtLifetime: 300 });
  const s = running.sandbox;
  let ok = true;
  const step = (n: number, title: string) => say(`\n[${n}] ${title}`);
  const fail = (why: string) => {
    ok = false;
    say(`    ✗ ${why}`);
  };
  try {
    say('claude-wif demo: a workload with an OIDC identity gets a short-lived Anthropic token, with no API key anywhere.');
    step(1, `Local WIF sandbox started at ${s.url}`);
    say(`    issuer ${s.issuerUrl} (discovery + JWKS), token endpoint ${s.url}/v1/oauth/token, API ${s.url}/v1/messages`);
    say(`    federation rule fdrl_sandbox trusts subjects "repo:example/*" with audience https://api.anthropic.com`);

    step(2, 'The platform writes the workload\'s identity JWT to a file (like a Kubernetes projected token)');
    const { payload } = decodeJwt((await import('node:fs')).readFileSync(running.identityFile, 'utf8').trim());
    say(`    ${running.identityFile}: iss=${payload['iss']} sub=${payload['sub']} aud=${payload['aud']} exp in ${Number(payload['exp']) - Math.floor(Date.now() / 1000)}s jti=${String(payload['jti']).slice(0, 8)}…`);

    step(3, 'An SDK-format profile points at the rule and the identity file');
    ensurePrivateDir(join(configDir, 'configs'));
    writeFileAtomic(join(configDir, 'configs', 'demo.json'), `${JSON.stringify(running.profile, null, 2)}\n`, 0o600);
    say(`    ${join(configDir, 'configs', 'demo.json')}`);
    for (const line of JSON.stringify(running.profile, null, 2).split('\n')) say(`      ${line}`);

    step(4, '`claude-wif --profile demo token` exchanges the JWT (RFC 7523 jwt-bearer) for an access token');
    const first = await runProcess(node, [self, '--profile', 'demo', 'token'], env);
    const token = first.stdout.trim();
    if (first.code !== 0 || !token.startsWith(ACCESS_TOKEN_PREFIX)) fail(`token failed (exit ${first.code}): ${redact(first.stderr.trim())}`);
    else say(`    got ${redact(token)} — ${s.exchanges.length} exchange(s) seen by the token endpoint; cached (0600) in the profile's credentials file`);

    step(5, 'A second call is served from the cache: no new exchange');
    const second = await runProcess(node, [self, '--profile', 'demo', 'token'], env);
    if (second.code !== 0 || second.stdout.trim() !== token) fail('the second call did not return the cached token');
    else say(`    same token, exchanges still ${s.exchanges.length}`);

    step(6, 'Single use: the same JWT cannot be exchanged twice');
    const replay = await runProcess(node, [self, '--profile', 'demo', 'token', '--force-refresh'], env);
    if (replay.code === 3 && /identity_replayed/.test(replay.stderr)) say('    refused locally before it reached the server (identity_replayed, exit 3); the next rotated JWT will work');
    else if (replay.code === 0) say('    the identity file had already rotated, so a fresh JWT was exchanged');
    else fail(`unexpected result of the replay attempt (exit ${replay.code}): ${redact(replay.stderr.trim())}`);

    step(7, 'A child process uses the token: `eval "$(claude-wif env)"`, then an ordinary program calls the API');
    const envOut = await runProcess(node, [self, '--profile', 'demo', 'env', '--format', 'json'], env);
    if (envOut.code !== 0) fail(`env failed (exit ${envOut.code}): ${redact(envOut.stderr.trim())}`);
    else {
      const vars = JSON.parse(envOut.stdout) as Record<string, string | null>;
      const childEnv: Record<string, string | undefined> = { PATH: env['PATH'], HOME: work };
      for (const [k, v] of Object.entries(vars)) if (v !== null) childEnv[k] = v;
      say(`    child environment: ${Object.keys(vars).filter((k) => vars[k] !== null).join(', ')} (the token travels in the environment, never in argv)`);
      const child = await runProcess(node, ['--input-type=module', '-e', CHILD], childEnv);
      if (child.code !== 0) fail(`the child's API call failed: ${redact(child.stderr.trim())}`);
      else say(`    child: POST /v1/messages → "${child.stdout.trim()}"`);
    }

    step(8, '`claude-wif exec -- <app>`: the app gets a private profile whose token file the parent keeps fresh');
    const beforeExchanges = s.exchanges.length;
    // A stray API key in the environment would outrank federation in every SDK: exec removes it.
    const exec = await runProcess(node, [self, '--profile', 'demo', 'exec', '--', node, '--input-type=module', '-e', EXEC_CHILD], { ...env, ANTHROPIC_API_KEY: 'sk-ant-api03-demo-decoy' });
    if (exec.code !== 0) fail(`exec failed (exit ${exec.code}): ${redact(exec.stderr.trim())}`);
    else {
      const r = JSON.parse(exec.stdout.trim().split('\n').pop()!) as { text: string; via: string; dir: string; mode: string; profile: string; marker: string; apiKeySeen: boolean };
      const byChild = s.exchanges.slice(beforeExchanges).filter((e) => !/^claude-wif\//.test(e.headers['user-agent'] ?? '')).length;
      say(`    child saw ANTHROPIC_CONFIG_DIR=${r.dir} (mode ${r.mode}, user_oauth profile "${r.profile}"), ${r.apiKeySeen ? 'an API key (!)' : 'no ANTHROPIC_API_KEY'}, CLAUDE_WIF_EXEC_PROFILE=${r.marker}`);
      say(`    child (${r.via}): POST /v1/messages → "${r.text}"`);
      say(`    only the parent exchanges (${s.exchanges.length - beforeExchanges} exchange(s) during this step, ${byChild} by the child); the private directory ${existsSync(r.dir) ? 'still exists (!)' : 'was removed when the child exited'}`);
      if (r.apiKeySeen || existsSync(r.dir) || byChild > 0 || r.mode !== '700') fail('exec left an API key in the child environment, exchanged from the child, or left its private directory open or behind');
    }

    const apiOk = s.apiCalls.filter((c) => c.status === 200).length;
    say(`\nSummary: ${s.exchanges.filter((e) => e.status === 200).length} successful exchange(s), ${apiOk} authenticated API call(s), 0 API keys.`);
    ctx.io.stdout.write(`${JSON.stringify({ ok, exchanges: s.exchanges.length, api_calls: apiOk })}\n`);
  } finally {
    await running.stop();
    rmSync(work, { recursive: true, force: true });
  }
  if (!ok) say('\nThe demo failed; rerun with CLAUDE_WIF_LOG=debug for details.');
  return ok ? 0 : 1;
}
