import { redact } from './redact.js';

export type LogLevel = 'quiet' | 'info' | 'debug';

/** Writes redacted diagnostics to stderr. Never used for results (those go to stdout). */
export interface Logger {
  level: LogLevel;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

export interface Writable {
  write(chunk: string): unknown;
}

export function createLogger(stderr: Writable, level: LogLevel): Logger {
  const warned = new Set<string>();
  return {
    level,
    debug(message) {
      if (level === 'debug') stderr.write(`claude-wif: debug: ${redact(message)}\n`);
    },
    info(message) {
      if (level !== 'quiet') stderr.write(`claude-wif: ${redact(message)}\n`);
    },
    warn(message) {
      // Warnings survive --quiet only when they concern safety; callers decide. Each is said once.
      if (warned.has(message)) return;
      warned.add(message);
      if (level !== 'quiet') stderr.write(`claude-wif: warning: ${redact(message)}\n`);
    },
  };
}

export const silentLogger: Logger = { level: 'quiet', debug() {}, info() {}, warn() {} };
