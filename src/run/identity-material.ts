import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { readEnv, type Env } from '../config/paths.js';
import { IDENTITY_MATERIAL, type IdentityMaterial } from '../identity/material.js';

/**
 * The identity material a child must not get (issue 12): every variable and file any identity
 * source reads to obtain a JWT, computed from the sources' own declarations (identity/material.ts)
 * plus what this plan's source options name, plus any variable whose value is a JWT (GitLab's
 * id_tokens have job-chosen names; nothing else in an environment looks like one).
 */
export interface ChildIdentityMaterial {
  /** Variables present in the parent's environment that the child will not get, sorted. */
  vars: string[];
  /** Material files and sockets (absolute paths, existing or not) to hide under isolation. */
  files: string[];
  /** Endpoints that give an identity to any process that can reach them (hidden by isolation's network namespace). */
  endpoints: string[];
  /** Names the user let through with --pass-env that are material (for the debug line). */
  passed: string[];
}

export interface MaterialInputs {
  env: Env;
  /** The plan's identity source and options (undefined for user_oauth plans). */
  identity?: { source: string; options: Record<string, unknown> } | undefined;
  /** `exec --pass-env NAME`: variables the child gets although they are material. */
  pass?: readonly string[];
}

/** Header and payload of a compact JWS: base64url JSON objects, the header naming an alg. */
export function looksLikeJwt(value: string): boolean {
  const v = value.trim();
  const parts = v.split('.');
  if (parts.length !== 3 || v.length < 20 || v.length > 64 * 1024) return false;
  if (!parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return false;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

function expandHome(p: string, env: Env): string {
  if (p === '~' || p.startsWith('~/')) return join(readEnv(env, 'HOME') ?? homedir(), p.slice(1));
  return p;
}

/** `unix:/path`, `unix:///path` (SPIFFE) or a plain path; undefined for anything that is not a local path. */
export function localPath(value: string, env: Env): string | undefined {
  let v = value.trim();
  if (v.startsWith('unix://')) v = v.slice('unix://'.length);
  else if (v.startsWith('unix:')) v = v.slice('unix:'.length);
  v = expandHome(v, env);
  if (!v) return undefined;
  return isAbsolute(v) ? v : resolve(v);
}

export function identityMaterial(inp: MaterialInputs): ChildIdentityMaterial {
  const env = inp.env;
  const pass = new Set(inp.pass ?? []);
  const names = new Set<string>();
  const pathVars = new Set<string>();
  const files = new Set<string>();
  const endpoints = new Set<string>();
  const prefixes: string[] = [];
  const take = (m: IdentityMaterial['whenActive'] & { prefixes?: readonly string[]; endpoints?: readonly string[] }): void => {
    for (const v of m.vars ?? []) names.add(v);
    for (const v of m.pathVars ?? []) {
      names.add(v);
      pathVars.add(v);
    }
    for (const f of m.files ?? []) files.add(expandHome(f, env));
    for (const p of m.prefixes ?? []) prefixes.push(p);
    for (const e of m.endpoints ?? []) endpoints.add(e);
  };
  for (const m of Object.values(IDENTITY_MATERIAL)) take(m);

  const active = inp.identity ? (IDENTITY_MATERIAL as Record<string, IdentityMaterial | undefined>)[inp.identity.source] : undefined;
  if (active && inp.identity) {
    if (active.whenActive) take(active.whenActive);
    const opt = (k: string): string | undefined => {
      const v = inp.identity!.options[k];
      return typeof v === 'string' && v.trim() !== '' ? v : undefined;
    };
    for (const k of active.varOptions ?? []) {
      const v = opt(k);
      if (v) names.add(v);
    }
    for (const k of active.fileOptions ?? []) {
      const v = opt(k);
      const p = v === undefined ? undefined : localPath(v, env);
      if (p) files.add(p);
    }
  }

  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (prefixes.some((p) => k === p || k.startsWith(`${p}_`))) names.add(k);
    else if (looksLikeJwt(v)) names.add(k);
  }

  const removed: string[] = [];
  const passed: string[] = [];
  for (const n of names) {
    if (pass.has(n)) {
      if (env[n] !== undefined) passed.push(n);
      continue;
    }
    if (pathVars.has(n)) {
      const v = readEnv(env, n);
      const p = v === undefined ? undefined : localPath(v, env);
      if (p) files.add(p);
    }
    if (env[n] !== undefined) removed.push(n);
  }
  // A path the user let through stays visible, whichever variable or option named it.
  for (const n of pass) {
    const v = readEnv(env, n);
    const p = v === undefined ? undefined : localPath(v, env);
    if (p && pathVars.has(n)) files.delete(p);
  }
  return { vars: removed.sort(), files: [...files].sort(), endpoints: [...endpoints].sort(), passed: passed.sort() };
}
