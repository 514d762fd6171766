/** Log search: case-insensitive substring over the text without ANSI escapes. */
import { stripAnsi } from './ansi';

export const MAX_MATCHES = 100_000;

/** Row indices of the lines containing `query` (at most `limit`, in order). */
export function findMatches(count: number, lineAt: (i: number) => string, query: string, limit = MAX_MATCHES): number[] {
  const matches: number[] = [];
  if (!query) {
    return matches;
  }
  const needle = query.toLowerCase();
  for (let i = 0; i < count && matches.length < limit; i++) {
    if (stripAnsi(lineAt(i)).toLowerCase().includes(needle)) {
      matches.push(i);
    }
  }
  return matches;
}

/** Rows of the first `limit` matches, and the exact number of matching lines. */
export function searchLines(
  count: number,
  lineAt: (i: number) => string,
  query: string,
  limit = MAX_MATCHES
): { rows: number[]; total: number } {
  const rows: number[] = [];
  let total = 0;
  if (!query) {
    return { rows, total };
  }
  const needle = query.toLowerCase();
  for (let i = 0; i < count; i++) {
    if (stripAnsi(lineAt(i)).toLowerCase().includes(needle)) {
      total++;
      if (rows.length < limit) rows.push(i);
    }
  }
  return { rows, total };
}

/** Index into `matches` after stepping from `current` by `dir`, wrapping around. */
export function stepMatch(matches: readonly number[], current: number, dir: 1 | -1): number {
  if (matches.length === 0) {
    return -1;
  }
  if (current < 0) {
    return dir === 1 ? 0 : matches.length - 1;
  }
  return (current + dir + matches.length) % matches.length;
}
