/** Parsing of the REST log endpoint's answer, tolerant of its JSON shapes. */

export interface LogChunk {
  offset: number;
  lines: string[];
  ts: number[];
}

type Item = string | { line?: unknown; text?: unknown; content?: unknown; offset?: unknown; ts?: unknown };

function itemText(item: Item): string {
  if (typeof item === 'string') {
    return item;
  }
  const text = item.line ?? item.text ?? item.content;
  return typeof text === 'string' ? text : '';
}

/**
 * Accepts `{offset?, lines: [str | {line, ts, offset}], ts?: [..]}`, a bare list, or JSON lines
 * (one object per line). `from` is the offset asked for, used when the answer has none.
 */
export function parseLogResponse(body: string, from: number): LogChunk {
  let items: Item[] = [];
  let offset: number | null = null;
  let tsList: unknown[] | null = null;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (Array.isArray(parsed)) {
      items = parsed as Item[];
    } else if (parsed && typeof parsed === 'object') {
      const obj = parsed as { lines?: unknown; items?: unknown; offset?: unknown; ts?: unknown };
      const list = Array.isArray(obj.lines) ? obj.lines : Array.isArray(obj.items) ? obj.items : [];
      items = list as Item[];
      offset = typeof obj.offset === 'number' ? obj.offset : null;
      tsList = Array.isArray(obj.ts) ? obj.ts : null;
    }
  } catch {
    items = body
      .split('\n')
      .filter(l => l.trim())
      .map(l => {
        try {
          return JSON.parse(l) as Item;
        } catch {
          return l;
        }
      });
  }
  const first = items[0];
  if (offset === null && first && typeof first === 'object' && typeof first.offset === 'number') {
    offset = first.offset;
  }
  const lines = items.map(itemText);
  const ts = items.map((item, i) => {
    const t = tsList?.[i] ?? (typeof item === 'object' ? item.ts : undefined);
    return typeof t === 'number' ? t : NaN;
  });
  return { offset: offset ?? from, lines, ts };
}
