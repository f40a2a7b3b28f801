import { execFileSync } from 'node:child_process';

/**
 * Why a test cannot play the neighbour (a second local user made with `useradd -M` and removed
 * afterwards), or undefined when it can: that needs root (CI runs as root) and useradd/userdel.
 */
export function noSecondUser(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root to create a second local user with useradd -M (CI runs as root)';
  try {
    execFileSync('sh', ['-c', 'command -v useradd && command -v userdel'], { stdio: 'ignore' });
  } catch {
    return 'useradd/userdel are not installed';
  }
  return undefined;
}
