// test/misc.test.ts
import assert from "node:assert/strict";
import { describe, it } from "node:test";

// widget/format.ts
function formatDuration(seconds) {
  if (seconds === null || seconds === void 0 || !Number.isFinite(seconds) || seconds < 0) {
    return "";
  }
  if (seconds < 10) {
    return `${seconds.toFixed(1)}s`;
  }
  const s = Math.floor(seconds);
  if (s < 60) {
    return `${s}s`;
  }
  const pad = (n) => String(n).padStart(2, "0");
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  }
  return `${Math.floor(s / 3600)}h ${pad(Math.floor(s % 3600 / 60))}m`;
}

// widget/history.ts
function itemText(item) {
  if (typeof item === "string") {
    return item;
  }
  const text = item.line ?? item.text ?? item.content;
  return typeof text === "string" ? text : "";
}
function parseLogResponse(body, from) {
  let items = [];
  let offset = null;
  let tsList = null;
  try {
    const parsed = JSON.parse(body);
    if (Array.isArray(parsed)) {
      items = parsed;
    } else if (parsed && typeof parsed === "object") {
      const obj = parsed;
      const list = Array.isArray(obj.lines) ? obj.lines : Array.isArray(obj.items) ? obj.items : [];
      items = list;
      offset = typeof obj.offset === "number" ? obj.offset : null;
      tsList = Array.isArray(obj.ts) ? obj.ts : null;
    }
  } catch {
    items = body.split("\n").filter((l) => l.trim()).map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return l;
      }
    });
  }
  const first = items[0];
  if (offset === null && first && typeof first === "object" && typeof first.offset === "number") {
    offset = first.offset;
  }
  const lines = items.map(itemText);
  const ts = items.map((item, i) => {
    const t = tsList?.[i] ?? (typeof item === "object" ? item.ts : void 0);
    return typeof t === "number" ? t : NaN;
  });
  return { offset: offset ?? from, lines, ts };
}

// widget/layout.ts
function layoutDag(steps) {
  const byId = new Map(steps.map((s) => [s.step_id, s]));
  const layerOf = /* @__PURE__ */ new Map();
  const visiting = /* @__PURE__ */ new Set();
  const layer = (id) => {
    const known = layerOf.get(id);
    if (known !== void 0) {
      return known;
    }
    if (visiting.has(id)) {
      return 0;
    }
    visiting.add(id);
    let l = 0;
    for (const need of byId.get(id)?.needs ?? []) {
      if (byId.has(need)) {
        l = Math.max(l, layer(need) + 1);
      }
    }
    visiting.delete(id);
    layerOf.set(id, l);
    return l;
  };
  const positions = /* @__PURE__ */ new Map();
  const rowsPerLayer = [];
  const edges = [];
  for (const step of steps) {
    const l = layer(step.step_id);
    const row = rowsPerLayer[l] ?? 0;
    rowsPerLayer[l] = row + 1;
    positions.set(step.step_id, [l, row]);
    for (const need of step.needs ?? []) {
      if (byId.has(need)) {
        edges.push([need, step.step_id]);
      }
    }
  }
  return { positions, layers: rowsPerLayer.length, rows: Math.max(0, ...rowsPerLayer.map((r) => r ?? 0)), edges };
}

// widget/transport.ts
function backoffDelay(attempt) {
  return Math.min(1e4, 500 * 2 ** Math.min(attempt, 10));
}
function parseFrame(data) {
  const parsed = JSON.parse(data);
  return Array.isArray(parsed) ? parsed : [parsed];
}

// widget/types.ts
function toSeconds(value) {
  if (value === null || value === void 0 || value === "") {
    return null;
  }
  if (typeof value === "number") {
    return Number.isFinite(value) ? value : null;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms / 1e3;
}

// test/misc.test.ts
describe("layoutDag", () => {
  it("layers by longest path from the roots", () => {
    const layout = layoutDag([
      { step_id: "env" },
      { step_id: "checkout" },
      { step_id: "test", needs: ["env", "checkout"] },
      { step_id: "build", needs: ["env"] },
      { step_id: "deploy", needs: ["test", "build", "env"] }
    ]);
    assert.deepEqual(Object.fromEntries(layout.positions), { env: [0, 0], checkout: [0, 1], test: [1, 0], build: [1, 1], deploy: [2, 0] });
    assert.equal(layout.layers, 3);
    assert.equal(layout.rows, 2);
    assert.equal(layout.edges.length, 6);
  });
  it("survives unknown needs and cycles", () => {
    const layout = layoutDag([{ step_id: "a", needs: ["b", "ghost"] }, { step_id: "b", needs: ["a"] }]);
    assert.equal(layout.positions.size, 2);
  });
});
describe("transport helpers", () => {
  it("parses a frame with one envelope or a list", () => {
    assert.equal(parseFrame('{"seq":1,"type":"heartbeat","execution_id":"x","data":{}}').length, 1);
    assert.equal(parseFrame('[{"seq":1},{"seq":2}]').length, 2);
  });
  it("backs off from 0.5 s to 10 s", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 50].map(backoffDelay), [500, 1e3, 2e3, 4e3, 8e3, 1e4, 1e4, 1e4]);
  });
});
describe("log history answers", () => {
  it("accepts the shapes a log endpoint may return", () => {
    assert.deepEqual(parseLogResponse('{"offset":5,"lines":["a","b"],"ts":[1,2]}', 0), { offset: 5, lines: ["a", "b"], ts: [1, 2] });
    assert.deepEqual(parseLogResponse('{"lines":[{"offset":7,"line":"x","ts":3}]}', 0), { offset: 7, lines: ["x"], ts: [3] });
    const jsonl = parseLogResponse('{"offset":2,"line":"p"}\n{"offset":3,"line":"q"}\n', 0);
    assert.deepEqual(jsonl.lines, ["p", "q"]);
    assert.equal(jsonl.offset, 2);
    assert.equal(parseLogResponse('["u"]', 9).offset, 9);
  });
});
describe("formatting", () => {
  it("formats durations and timestamps", () => {
    assert.deepEqual([0.25, 12.7, 125, 7322].map(formatDuration), ["0.3s", "12s", "2m 05s", "2h 02m"]);
    assert.equal(formatDuration(null), "");
    assert.equal(toSeconds("1970-01-01T00:00:10Z"), 10);
    assert.equal(toSeconds(null), null);
  });
});
