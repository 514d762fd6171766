import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ansiToHtml, color256, escapeHtml, parseAnsi, stripAnsi } from '../widget/ansi';

describe('parseAnsi', () => {
  it('splits colours, bold and reset into spans', () => {
    const spans = parseAnsi('plain \u001b[1;31mred bold\u001b[0m back \u001b[92mbright\u001b[39m def');
    assert.deepEqual(
      spans.map(s => [s.text, s.style.fg, s.style.bold]),
      [
        ['plain ', null, false],
        ['red bold', 1, true],
        [' back ', null, false],
        ['bright', 10, false],
        [' def', null, false]
      ]
    );
  });

  it('handles backgrounds, 256 and truecolor', () => {
    const [a, b, c] = parseAnsi('\u001b[44mA\u001b[0;38;5;196mB\u001b[48;2;1;2;3mC');
    assert.equal(a.style.bg, 4);
    assert.equal(b.style.fg, 'rgb(255,0,0)');
    assert.equal(c.style.bg, 'rgb(1,2,3)');
    assert.equal(color256(244), 'rgb(128,128,128)');
    assert.equal(color256(3), 3);
  });

  it('treats an empty SGR as reset and drops other escapes', () => {
    const spans = parseAnsi('\u001b[31mx\u001b[my\u001b[2K\u001b]0;title\u0007z');
    assert.deepEqual(
      spans.map(s => [s.text, s.style.fg]),
      [
        ['x', 1],
        ['yz', null]
      ]
    );
  });

  it('never throws on malformed input', () => {
    for (const bad of [
      '\u001b',
      '\u001b[',
      '\u001b[31',
      '\u001b[38;5m',
      '\u001b[38;2;999mX',
      '\u001b]unterminated',
      'a\u001b\u001b[b',
      '\u001b[;;;m',
      '\u001b[999999999999m'
    ]) {
      assert.doesNotThrow(() => ansiToHtml(bad, 'a'));
    }
    assert.equal(stripAnsi('\u001b[31'), '[31');
  });
});

describe('ansiToHtml', () => {
  it('escapes HTML in text', () => {
    const html = ansiToHtml('<img src=x onerror=alert(1)> & "q" \u001b[31m<b>');
    assert.ok(!html.includes('<img'));
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;'));
    assert.ok(html.includes('<span class="af-fg1">&lt;b&gt;</span>'));
    assert.equal(escapeHtml(`'`), '&#39;');
  });

  it('uses classes for the palette and inline style for rgb', () => {
    assert.equal(ansiToHtml('\u001b[1;91mE'), '<span class="af-fg9 af-bold">E</span>');
    assert.equal(ansiToHtml('\u001b[38;2;10;20;30mT'), '<span style="color:rgb(10,20,30)">T</span>');
  });

  it('highlights search matches across span boundaries', () => {
    const html = ansiToHtml('ab\u001b[31mcd\u001b[0mef', 'bcd', true);
    assert.equal(
      html,
      'a<mark class="af-match af-current">b</mark><span class="af-fg1"><mark class="af-match af-current">cd</mark></span>ef'
    );
    assert.equal(ansiToHtml('x<y', '<'), 'x<mark class="af-match">&lt;</mark>y');
  });
});
