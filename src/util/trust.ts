import { lstatSync, statSync, type Stats } from 'node:fs';
import { WifError } from './errors.js';

/**
 * The house trust rule (ARCHITECTURE.md §4, issue 15): claude-wif trusts only files, directories
 * and sockets owned by the caller (or root) and writable by no one else. Root is no exception: a
 * file another user planted is refused by root too. Whoever owns or can write a directory can swap
 * what is in it (a profile's base_url, a token, a socket), so the same rule covers directories —
 * the sticky bit does not help there: it stops others deleting our files, not planting names we
 * have not created yet. Every refusal is insecure_file (exit 6) with a fix.
 *
 * Everything here is a few stat calls: it runs on the hot path (profile and credentials reads).
 */

const myUid = (): number | undefined => (typeof process.getuid === 'function' ? process.getuid() : undefined);

/** Owned by the caller, or by root. Windows (no uids): trusted. */
export function trustedOwner(uid: number): boolean {
  const me = myUid();
  return me === undefined || uid === me || uid === 0;
}

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

function ownerText(uid: number): string {
  const me = myUid();
  return `belongs to uid ${uid}, not to this user (uid ${me})${me === 0 ? '' : ' or root'}`;
}

export interface TrustIssue {
  path: string;
  /** What is wrong, one clause: "belongs to uid 1001, …", "is writable by other users (mode 1777)". */
  problem: string;
  fix: string;
}

/**
 * Why `dir` cannot be trusted to hold what claude-wif reads or writes, or undefined. `what` names
 * it for messages ("the credentials directory"). Symlinks to a directory are followed (the checks
 * apply to the target), except where the caller refuses links itself.
 */
export function dirIssue(dir: string, what: string, st?: Stats): TrustIssue | undefined {
  if (process.platform === 'win32') return undefined;
  const s = st ?? statSync(dir);
  if (!s.isDirectory()) return { path: dir, problem: `${what} ${dir} is not a directory`, fix: `remove ${dir} or choose another path` };
  if (!trustedOwner(s.uid)) {
    return {
      path: dir,
      problem: `${what} ${dir} ${ownerText(s.uid)}: that user could replace what claude-wif reads or writes there`,
      fix: `use a directory you own that no one else can write (e.g. under your home), or have it owned by you: \`chown ${myUid()} ${dir}\``,
    };
  }
  if ((s.mode & 0o022) !== 0) {
    const sticky = (s.mode & 0o1000) !== 0;
    return {
      path: dir,
      problem: `${what} ${dir} is writable by other users (mode ${octal(s.mode)})${sticky ? ': the sticky bit does not stop them from planting a file or socket before claude-wif creates it' : ''}`,
      fix: sticky
        ? `use a private directory instead (e.g. ~/.config/anthropic/credentials, or \`mkdir -m 700 ${dir.replace(/\/+$/, '')}/claude-wif-$USER\`); claude-wif never changes the mode of a directory it did not create`
        : `make it private (\`chmod go-w ${dir}\`, or \`chmod 700 ${dir}\`) or use another directory; claude-wif never changes the mode of a directory it did not create`,
    };
  }
  return undefined;
}

/** Why the file `path` (already stat'ed, `st`) cannot be trusted, or undefined. */
export function fileIssue(path: string, what: string, st: Stats, opts: { othersMayRead?: boolean } = {}): TrustIssue | undefined {
  if (process.platform === 'win32') return undefined;
  if (!trustedOwner(st.uid)) {
    return { path, problem: `${what} ${path} ${ownerText(st.uid)}: a file another user planted is never trusted`, fix: `delete it or have it owned by you (\`chown ${myUid()} ${path}\`) after checking its content` };
  }
  const bad = opts.othersMayRead ? 0o022 : 0o077;
  if ((st.mode & bad) !== 0) {
    return {
      path,
      problem: `${what} ${path} has mode ${octal(st.mode)}: other users could ${opts.othersMayRead ? 'replace its content' : 'read or replace it'}`,
      fix: `run \`chmod ${opts.othersMayRead ? 'go-w' : '600'} ${path}\``,
    };
  }
  return undefined;
}

export function refuse(issue: TrustIssue): WifError {
  return new WifError('insecure_file', issue.problem, { hint: issue.fix, details: { path: issue.path } });
}

/** Throws insecure_file unless `dir` is trusted (see dirIssue). Absent: ENOENT is thrown as is. */
export function requireTrustedDir(dir: string, what: string): void {
  const issue = dirIssue(dir, what);
  if (issue) throw refuse(issue);
}

/** Refuses a symlink at `path` itself (lstat), for directories claude-wif writes into by name. */
export function requireNotSymlink(path: string, what: string): Stats | undefined {
  let l: Stats;
  try {
    l = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (l.isSymbolicLink()) {
    throw new WifError('insecure_file', `${what} ${path} is a symlink; claude-wif writes only into a real directory, so a link cannot redirect it (to another user's directory, or to the SDK configuration)`, {
      hint: `remove the link (\`rm ${path}\`) and let claude-wif create the directory, or pass the real path`,
      details: { path },
    });
  }
  return l;
}
