/**
 * "Did you mean …?" for names a user types: profiles, identity sources, choices. Optimal string
 * alignment distance (a transposition counts as one edit, as in commander's suggestions for
 * commands and options), hand-written because profile errors are raised on the token hot path.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidates (ties kept), when close enough to be a typo: at most a third of the word, and never the word itself. */
export function closest(word: string, candidates: readonly string[]): string[] {
  const w = word.toLowerCase();
  let best = Infinity;
  let out: string[] = [];
  for (const c of candidates) {
    if (c === word) continue;
    const dist = c.toLowerCase() === w ? 0.5 : editDistance(w, c.toLowerCase());
    if (dist > Math.max(1, Math.floor(Math.max(w.length, c.length) / 3))) continue;
    if (dist < best) [best, out] = [dist, [c]];
    else if (dist === best) out.push(c);
  }
  return out;
}

/** " (did you mean X?)" or "", ready to append to a message. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const c = closest(word, candidates);
  return c.length ? ` (did you mean ${c.map((x) => JSON.stringify(x)).join(' or ')}?)` : '';
}
