import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineList, PAGE } from '../widget/linelist';

const all = (list: LineList): Array<string | undefined> => Array.from({ length: list.length }, (_, i) => list.get(i));

describe('LineList', () => {
  it('holds what a plain array holds through pushes, packed pages, prepends and drops', () => {
    const list = new LineList();
    let model: string[] = [];
    let n = 0;
    let seed = 7;
    const rand = (k: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    for (let round = 0; round < 80; round++) {
      const op = rand(10);
      if (op < 6) {
        // Lines of any length, empty ones and multi-byte ones included.
        const count = rand(PAGE + 500);
        for (let i = 0; i < count; i++) {
          const line = i % 97 === 0 ? '' : `${n++}${i % 13 === 0 ? ' ✓ é' : ''}`;
          list.push(line);
          model.push(line);
        }
      } else if (op < 7) {
        // A packed batch: one page as it comes from the frame parser.
        const lines = Array.from({ length: rand(9000) }, (_, i) => (i % 50 === 0 ? '' : `p${n++}`));
        const ends = new Uint32Array(lines.length);
        let end = 0;
        lines.forEach((line, i) => {
          end += line.length;
          ends[i] = end;
        });
        list.pushPage(lines.join(''), ends);
        model.push(...lines);
      } else if (op < 8) {
        const earlier = Array.from({ length: rand(300) }, (_, i) => `h${round}.${i}`);
        list.prepend(earlier);
        model = earlier.concat(model);
      } else {
        const drop = rand(Math.max(1, Math.floor(model.length * 0.7)));
        list.dropFirst(drop);
        model = model.slice(drop);
      }
      assert.equal(list.length, model.length, `round ${round}`);
      for (const i of [0, 1, model.length - 1, rand(model.length + 1), rand(model.length + 1)]) {
        assert.equal(list.get(i), model[i], `round ${round}, line ${i}`);
      }
    }
    assert.deepEqual(all(list), model);
    assert.equal(list.get(-1), undefined);
    assert.equal(list.get(model.length), undefined);
  });

  it('drops everything it holds, then takes lines again', () => {
    const list = new LineList();
    for (let i = 0; i < PAGE * 2 + 5; i++) list.push(String(i));
    list.prepend(['a', 'b']);
    list.dropFirst(10 ** 9);
    assert.equal(list.length, 0);
    list.push('x');
    assert.deepEqual(all(list), ['x']);
  });
});
