/**
 * "Did you mean": the known word nearest a mistyped command or flag, when it is near enough to be
 * what was meant (a letter or two wrong, swapped, missing or extra, or the start of a longer word).
 */

/** Edits from one word to the other, a swap of neighbours counting as one (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

export function nearest(word: string, known: readonly string[]): string | null {
  const typed = word.toLowerCase();
  // Short words are one edit from too many others to guess at two.
  const limit = typed.length <= 4 ? 1 : 2;
  let best: { word: string; score: number } | null = null;
  for (const k of known) {
    const score = typed.length >= 3 && k.startsWith(typed) ? 0.5 : distance(typed, k);
    // Ties go to the word nearest in length: "--stat" means --state rather than --state-dir.
    const closer = best && (score < best.score || (score === best.score && Math.abs(k.length - typed.length) < Math.abs(best.word.length - typed.length)));
    if (score <= limit && (!best || closer)) best = { word: k, score };
  }
  return best?.word ?? null;
}
