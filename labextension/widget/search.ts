/** Log search over the text without ANSI escapes: case-insensitive text, or `/regex/`. */
import { stripAnsi } from './ansi';

export const MAX_MATCHES = 100_000;

/** The test a line must pass: `/re/` as a regular expression, else a substring ignoring case. */
export function lineTest(query: string): (text: string) => boolean {
  if (query.length > 2 && query.startsWith('/') && query.endsWith('/')) {
    try {
      const re = new RegExp(query.slice(1, -1));
      return text => re.test(text);
    } catch {
      // Not a valid JavaScript regex: search for the text as typed.
    }
  }
  const needle = query.toLowerCase();
  return text => text.toLowerCase().includes(needle);
}

/** Row indices of the lines containing `query` (at most `limit`, in order). */
export function findMatches(count: number, lineAt: (i: number) => string, query: string, limit = MAX_MATCHES): number[] {
  const matches: number[] = [];
  if (!query) {
    return matches;
  }
  const test = lineTest(query);
  for (let i = 0; i < count && matches.length < limit; i++) {
    if (test(stripAnsi(lineAt(i)))) {
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
  const test = lineTest(query);
  for (let i = 0; i < count; i++) {
    if (test(stripAnsi(lineAt(i)))) {
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
