/**
 * A small ANSI SGR parser: text -> styled spans -> escaped HTML. Logs come from arbitrary
 * programs, so malformed or unsupported escapes are dropped, never thrown on.
 */

export interface AnsiStyle {
  /** Palette index 0-15 (rendered with theme-aware CSS classes) or an `rgb()` string. */
  fg: number | string | null;
  bg: number | string | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

export interface Span {
  text: string;
  style: AnsiStyle;
}

// CSI (ESC [ params final), OSC (ESC ] ... BEL|ST), or any other two-byte escape / stray ESC.
const ESCAPE_RE = /\u001b(?:\[([0-?]*)[ -/]*([@-~])|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[@-Z\\-_]?)/g;

function plainStyle(): AnsiStyle {
  return { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
}

const CUBE = [0, 95, 135, 175, 215, 255];

/** xterm 256-colour index -> palette index (0-15) or rgb(). */
export function color256(n: number): number | string | null {
  if (!Number.isInteger(n) || n < 0 || n > 255) {
    return null;
  }
  if (n < 16) {
    return n;
  }
  if (n < 232) {
    const i = n - 16;
    return `rgb(${CUBE[Math.floor(i / 36)]},${CUBE[Math.floor(i / 6) % 6]},${CUBE[i % 6]})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

/** Reads an extended colour (38/48 ; 5;n | 2;r;g;b); returns the colour and the params used. */
function extendedColor(codes: number[], i: number): [number | string | null, number] {
  if (codes[i + 1] === 5) {
    return [color256(codes[i + 2]), 2];
  }
  if (codes[i + 1] === 2) {
    const [r, g, b] = [codes[i + 2], codes[i + 3], codes[i + 4]].map(c => Math.min(255, Math.max(0, c || 0)));
    return [`rgb(${r},${g},${b})`, 4];
  }
  return [null, 0];
}

function applySgr(style: AnsiStyle, params: string): void {
  const codes = params === '' ? [0] : params.split(/[;:]/).map(p => (p === '' ? 0 : Number(p)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) {
      Object.assign(style, plainStyle());
    } else if (c === 1) {
      style.bold = true;
    } else if (c === 2) {
      style.dim = true;
    } else if (c === 3) {
      style.italic = true;
    } else if (c === 4) {
      style.underline = true;
    } else if (c === 22) {
      style.bold = style.dim = false;
    } else if (c === 23) {
      style.italic = false;
    } else if (c === 24) {
      style.underline = false;
    } else if (c >= 30 && c <= 37) {
      style.fg = c - 30;
    } else if (c >= 90 && c <= 97) {
      style.fg = c - 90 + 8;
    } else if (c >= 40 && c <= 47) {
      style.bg = c - 40;
    } else if (c >= 100 && c <= 107) {
      style.bg = c - 100 + 8;
    } else if (c === 39) {
      style.fg = null;
    } else if (c === 49) {
      style.bg = null;
    } else if (c === 38 || c === 48) {
      const [color, used] = extendedColor(codes, i);
      if (c === 38) {
        style.fg = color;
      } else {
        style.bg = color;
      }
      i += used;
    }
  }
}

/** Split a line into styled spans; escapes are consumed, unknown ones dropped. */
export function parseAnsi(input: string): Span[] {
  const spans: Span[] = [];
  const style = plainStyle();
  let last = 0;
  const push = (text: string): void => {
    if (text) {
      const prev = spans[spans.length - 1];
      if (prev && sameStyle(prev.style, style)) {
        prev.text += text;
      } else {
        spans.push({ text, style: { ...style } });
      }
    }
  };
  ESCAPE_RE.lastIndex = 0;
  for (let m = ESCAPE_RE.exec(input); m !== null; m = ESCAPE_RE.exec(input)) {
    push(input.slice(last, m.index));
    if (m[2] === 'm') {
      applySgr(style, m[1] ?? '');
    }
    last = ESCAPE_RE.lastIndex;
    if (m[0].length === 0) {
      ESCAPE_RE.lastIndex++; // never loop on an empty match
    }
  }
  push(input.slice(last));
  return spans;
}

function sameStyle(a: AnsiStyle, b: AnsiStyle): boolean {
  return a.fg === b.fg && a.bg === b.bg && a.bold === b.bold && a.dim === b.dim && a.italic === b.italic && a.underline === b.underline;
}

/** The text without escapes (for search and downloads). */
export function stripAnsi(input: string): string {
  return input.indexOf('\u001b') < 0 ? input : input.replace(ESCAPE_RE, '');
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for innerHTML (and attribute values). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, ch => HTML_ESCAPES[ch]);
}

function styleAttrs(style: AnsiStyle): string {
  const classes: string[] = [];
  const css: string[] = [];
  if (typeof style.fg === 'number') {
    classes.push(`af-fg${style.fg}`);
  } else if (style.fg) {
    css.push(`color:${style.fg}`);
  }
  if (typeof style.bg === 'number') {
    classes.push(`af-bg${style.bg}`);
  } else if (style.bg) {
    css.push(`background-color:${style.bg}`);
  }
  if (style.bold) classes.push('af-bold');
  if (style.dim) classes.push('af-dim');
  if (style.italic) classes.push('af-italic');
  if (style.underline) classes.push('af-underline');
  // Colours come from our own parser (digits only), so they are safe inside the attribute.
  return (classes.length ? ` class="${classes.join(' ')}"` : '') + (css.length ? ` style="${css.join(';')}"` : '');
}

/**
 * Escaped HTML of one line; `query` (case-insensitive) matches are wrapped in <mark>,
 * `current` marks the active one.
 */
export function ansiToHtml(line: string, query = '', current = false): string {
  const spans = parseAnsi(line);
  const plain = spans.map(s => s.text).join('');
  const ranges: Array<[number, number]> = [];
  if (query) {
    const hay = plain.toLowerCase();
    const needle = query.toLowerCase();
    for (let at = hay.indexOf(needle); at >= 0 && ranges.length < 1000; at = hay.indexOf(needle, at + needle.length)) {
      ranges.push([at, at + needle.length]);
    }
  }
  let html = '';
  let pos = 0;
  let r = 0;
  for (const span of spans) {
    const attrs = styleAttrs(span.style);
    const end = pos + span.text.length;
    let inner = '';
    let cursor = pos;
    while (r < ranges.length && ranges[r][0] < end) {
      const [a, b] = ranges[r];
      const from = Math.max(a, cursor);
      const to = Math.min(b, end);
      inner += escapeHtml(plain.slice(cursor, from));
      inner += `<mark class="af-match${current ? ' af-current' : ''}">${escapeHtml(plain.slice(from, to))}</mark>`;
      cursor = to;
      if (b <= end) {
        r++;
      } else {
        break;
      }
    }
    inner += escapeHtml(plain.slice(cursor, end));
    html += attrs ? `<span${attrs}>${inner}</span>` : inner;
    pos = end;
  }
  return html;
}
