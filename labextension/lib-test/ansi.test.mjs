// test/ansi.test.ts
import assert from "node:assert/strict";
import { describe, it } from "node:test";

// widget/ansi.ts
var ESCAPE_RE = /\u001b(?:\[([0-?]*)[ -/]*([@-~])|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[@-Z\\-_]?)/g;
function plainStyle() {
  return { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
}
var CUBE = [0, 95, 135, 175, 215, 255];
function color256(n) {
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
function extendedColor(codes, i) {
  if (codes[i + 1] === 5) {
    return [color256(codes[i + 2]), 2];
  }
  if (codes[i + 1] === 2) {
    const [r, g, b] = [codes[i + 2], codes[i + 3], codes[i + 4]].map((c) => Math.min(255, Math.max(0, c || 0)));
    return [`rgb(${r},${g},${b})`, 4];
  }
  return [null, 0];
}
function applySgr(style, params) {
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => p === "" ? 0 : Number(p));
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
function parseAnsi(input) {
  const spans = [];
  const style = plainStyle();
  let last = 0;
  const push = (text) => {
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
    if (m[2] === "m") {
      applySgr(style, m[1] ?? "");
    }
    last = ESCAPE_RE.lastIndex;
    if (m[0].length === 0) {
      ESCAPE_RE.lastIndex++;
    }
  }
  push(input.slice(last));
  return spans;
}
function sameStyle(a, b) {
  return a.fg === b.fg && a.bg === b.bg && a.bold === b.bold && a.dim === b.dim && a.italic === b.italic && a.underline === b.underline;
}
function stripAnsi(input) {
  return input.indexOf("\x1B") < 0 ? input : input.replace(ESCAPE_RE, "");
}
var HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]);
}
function styleAttrs(style) {
  const classes = [];
  const css = [];
  if (typeof style.fg === "number") {
    classes.push(`af-fg${style.fg}`);
  } else if (style.fg) {
    css.push(`color:${style.fg}`);
  }
  if (typeof style.bg === "number") {
    classes.push(`af-bg${style.bg}`);
  } else if (style.bg) {
    css.push(`background-color:${style.bg}`);
  }
  if (style.bold) classes.push("af-bold");
  if (style.dim) classes.push("af-dim");
  if (style.italic) classes.push("af-italic");
  if (style.underline) classes.push("af-underline");
  return (classes.length ? ` class="${classes.join(" ")}"` : "") + (css.length ? ` style="${css.join(";")}"` : "");
}
function ansiToHtml(line, query = "", current = false) {
  const spans = parseAnsi(line);
  const plain = spans.map((s) => s.text).join("");
  const ranges = [];
  if (query) {
    const hay = plain.toLowerCase();
    const needle = query.toLowerCase();
    for (let at = hay.indexOf(needle); at >= 0 && ranges.length < 1e3; at = hay.indexOf(needle, at + needle.length)) {
      ranges.push([at, at + needle.length]);
    }
  }
  let html = "";
  let pos = 0;
  let r = 0;
  for (const span of spans) {
    const attrs = styleAttrs(span.style);
    const end = pos + span.text.length;
    let inner = "";
    let cursor = pos;
    while (r < ranges.length && ranges[r][0] < end) {
      const [a, b] = ranges[r];
      const from = Math.max(a, cursor);
      const to = Math.min(b, end);
      inner += escapeHtml(plain.slice(cursor, from));
      inner += `<mark class="af-match${current ? " af-current" : ""}">${escapeHtml(plain.slice(from, to))}</mark>`;
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

// test/ansi.test.ts
describe("parseAnsi", () => {
  it("splits colours, bold and reset into spans", () => {
    const spans = parseAnsi("plain \x1B[1;31mred bold\x1B[0m back \x1B[92mbright\x1B[39m def");
    assert.deepEqual(
      spans.map((s) => [s.text, s.style.fg, s.style.bold]),
      [["plain ", null, false], ["red bold", 1, true], [" back ", null, false], ["bright", 10, false], [" def", null, false]]
    );
  });
  it("handles backgrounds, 256 and truecolor", () => {
    const [a, b, c] = parseAnsi("\x1B[44mA\x1B[0;38;5;196mB\x1B[48;2;1;2;3mC");
    assert.equal(a.style.bg, 4);
    assert.equal(b.style.fg, "rgb(255,0,0)");
    assert.equal(c.style.bg, "rgb(1,2,3)");
    assert.equal(color256(244), "rgb(128,128,128)");
    assert.equal(color256(3), 3);
  });
  it("treats an empty SGR as reset and drops other escapes", () => {
    const spans = parseAnsi("\x1B[31mx\x1B[my\x1B[2K\x1B]0;title\x07z");
    assert.deepEqual(spans.map((s) => [s.text, s.style.fg]), [["x", 1], ["yz", null]]);
  });
  it("never throws on malformed input", () => {
    for (const bad of ["\x1B", "\x1B[", "\x1B[31", "\x1B[38;5m", "\x1B[38;2;999mX", "\x1B]unterminated", "a\x1B\x1B[b", "\x1B[;;;m", "\x1B[999999999999m"]) {
      assert.doesNotThrow(() => ansiToHtml(bad, "a"));
    }
    assert.equal(stripAnsi("\x1B[31"), "[31");
  });
});
describe("ansiToHtml", () => {
  it("escapes HTML in text", () => {
    const html = ansiToHtml('<img src=x onerror=alert(1)> & "q" \x1B[31m<b>');
    assert.ok(!html.includes("<img"));
    assert.ok(html.includes("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;"));
    assert.ok(html.includes('<span class="af-fg1">&lt;b&gt;</span>'));
    assert.equal(escapeHtml(`'`), "&#39;");
  });
  it("uses classes for the palette and inline style for rgb", () => {
    assert.equal(ansiToHtml("\x1B[1;91mE"), '<span class="af-fg9 af-bold">E</span>');
    assert.equal(ansiToHtml("\x1B[38;2;10;20;30mT"), '<span style="color:rgb(10,20,30)">T</span>');
  });
  it("highlights search matches across span boundaries", () => {
    const html = ansiToHtml("ab\x1B[31mcd\x1B[0mef", "bcd", true);
    assert.equal(html, 'a<mark class="af-match af-current">b</mark><span class="af-fg1"><mark class="af-match af-current">cd</mark></span>ef');
    assert.equal(ansiToHtml("x<y", "<"), 'x<mark class="af-match">&lt;</mark>y');
  });
});
