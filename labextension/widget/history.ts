/** The REST log endpoint's one answer shape, parsed strictly (a wrong shape is a bug). */

export interface LogChunk {
  offset: number;
  lines: string[];
  ts: number[];
  streams: string[];
}

/** One stored line as the server sends it. */
export interface LogLine {
  step_id: string;
  offset: number;
  stream: string;
  line: string;
  ts: number;
}

/** `{execution_id, lines: [{step_id, offset, stream, line, ts}], next_offset}`. */
export interface LogPage {
  lines: LogLine[];
  next_offset: number | null;
  /** With `count=1`: the number of matching lines of the whole log. */
  total?: number;
}

/** Parse a page of the logs endpoint; throws on any other shape. */
export function parseLogPage(body: string): LogPage {
  const parsed = JSON.parse(body) as { lines?: unknown; next_offset?: unknown; total?: unknown };
  if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.lines)) {
    throw new Error('ansflow: the logs endpoint answered without a "lines" list');
  }
  for (const item of parsed.lines as unknown[]) {
    const line = item as Partial<LogLine>;
    if (!line || typeof line.line !== 'string' || typeof line.offset !== 'number') {
      throw new Error('ansflow: a log line without "line" and "offset"');
    }
  }
  const next = parsed.next_offset;
  const page: LogPage = { lines: parsed.lines as LogLine[], next_offset: typeof next === 'number' ? next : null };
  if (typeof parsed.total === 'number') {
    page.total = parsed.total;
  }
  return page;
}

/** One step's contiguous lines of a page, as the reducer's log_update wants them. */
export function toChunk(page: LogPage, from: number): LogChunk {
  const lines = page.lines;
  return {
    offset: lines.length ? lines[0].offset : from,
    lines: lines.map(l => l.line),
    ts: lines.map(l => (typeof l.ts === 'number' ? l.ts : Number.NaN)),
    streams: lines.map(l => l.stream || 'stdout')
  };
}
