// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Width as a terminal shows it: colour codes take no room. */
export function visibleWidth(s: string): number {
  return [...s.replace(ANSI, '')].length;
}

/**
 * Aligned columns, separated by two spaces; the last column is never padded (no trailing
 * blanks). `header`, when given, is the first row.
 */
export function table(rows: string[][], header?: string[]): string {
  const all = header ? [header, ...rows] : rows;
  if (!all.length) return '';
  const cols = Math.max(...all.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, c) => Math.max(0, ...all.map((r) => visibleWidth(r[c] ?? ''))));
  return `${all
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell + ' '.repeat(widths[c]! - visibleWidth(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}
