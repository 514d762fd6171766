// test/reducer.test.ts
import assert from "node:assert/strict";
import { describe, it } from "node:test";

// widget/logs.ts
var REF_SHIFT = 2 ** 32;
var LOCAL_BIAS = 2 ** 31;
var DEFAULT_MAX_LINES = 2e6;
var LogStore = class {
  constructor(maxLines = DEFAULT_MAX_LINES) {
    this.maxLines = maxLines;
    this.steps = /* @__PURE__ */ new Map();
    this.byIndex = [];
    this.refs = [];
    this.head = 0;
    this.total = 0;
    this.droppedTotal = 0;
    /** Bumped on every change so renderers know when to redraw. */
    this.version = 0;
  }
  step(id) {
    let log = this.steps.get(id);
    if (!log) {
      log = { id, index: this.byIndex.length, lines: [], ts: [], base: 0, first: 0, next: -1, dropped: 0 };
      this.steps.set(id, log);
      this.byIndex.push(log);
    }
    return log;
  }
  /**
   * Add lines at a SPEC offset. Idempotent: lines already held are skipped, so a replay
   * after a reconnect or a re-sent snapshot never duplicates. Older contiguous lines
   * (a history back-fill) are prepended; a gap gets one marker line.
   */
  add(stepId, offset, lines2, ts, fallbackTs) {
    if (lines2.length === 0) {
      return;
    }
    const log = this.step(stepId);
    const end = offset + lines2.length;
    if (log.next < 0) {
      log.first = offset;
      log.next = offset;
    }
    if (end <= log.next) {
      this.prepend(log, offset, lines2, ts, fallbackTs);
      return;
    }
    let skip = 0;
    if (offset < log.next) {
      skip = log.next - offset;
    } else if (offset > log.next) {
      this.push(log, `\x1B[2m\u22EF ${offset - log.next} lines not received\x1B[0m`, fallbackTs);
    }
    for (let i = skip; i < lines2.length; i++) {
      this.push(log, lines2[i], ts?.[i] ?? fallbackTs);
    }
    log.next = end;
    this.enforceCap();
    this.version++;
  }
  push(log, line, ts) {
    const local = log.base + log.lines.length;
    log.lines.push(line);
    log.ts.push(ts);
    this.refs.push(log.index * REF_SHIFT + local + LOCAL_BIAS);
    this.total++;
  }
  prepend(log, offset, lines2, ts, fallbackTs) {
    if (log.dropped > 0 || offset >= log.first || offset + lines2.length < log.first) {
      return;
    }
    const count = log.first - offset;
    const newLines = lines2.slice(0, count);
    const newTs = newLines.map((_, i) => ts?.[i] ?? fallbackTs);
    log.base -= count;
    log.first = offset;
    log.lines = newLines.concat(log.lines);
    log.ts = newTs.concat(log.ts);
    const newRefs = newLines.map((_, i) => log.index * REF_SHIFT + log.base + i + LOCAL_BIAS);
    this.refs = newRefs.concat(this.refs.slice(this.head));
    this.head = 0;
    this.total += count;
    this.enforceCap();
    this.version++;
  }
  enforceCap() {
    if (this.total <= this.maxLines) {
      return;
    }
    const drop = Math.min(this.total, this.total - this.maxLines + Math.max(1, Math.floor(this.maxLines / 10)));
    const perStep = /* @__PURE__ */ new Map();
    for (let i = 0; i < drop; i++) {
      const log = this.byIndex[Math.floor(this.refs[this.head + i] / REF_SHIFT)];
      perStep.set(log, (perStep.get(log) ?? 0) + 1);
    }
    this.head += drop;
    for (const [log, n] of perStep) {
      log.lines.splice(0, n);
      log.ts.splice(0, n);
      log.base += n;
      log.first += n;
      log.dropped += n;
    }
    this.total -= drop;
    this.droppedTotal += drop;
    if (this.head > 65536 && this.head * 2 > this.refs.length) {
      this.refs = this.refs.slice(this.head);
      this.head = 0;
    }
  }
  /** Number of rows of a view: one step, or every step (null) in arrival order. */
  count(stepId) {
    if (stepId === null) {
      return this.refs.length - this.head;
    }
    return this.steps.get(stepId)?.lines.length ?? 0;
  }
  row(stepId, i) {
    if (stepId === null) {
      const ref = this.refs[this.head + i];
      if (ref === void 0) {
        return null;
      }
      const step2 = this.byIndex[Math.floor(ref / REF_SHIFT)];
      const at = ref % REF_SHIFT - LOCAL_BIAS - step2.base;
      return { step: step2, line: step2.lines[at] ?? "", ts: step2.ts[at] ?? NaN };
    }
    const step = this.steps.get(stepId);
    if (!step || i < 0 || i >= step.lines.length) {
      return null;
    }
    return { step, line: step.lines[i], ts: step.ts[i] };
  }
  /** Lines before the first one held for a view (dropped by the cap or never loaded). */
  hiddenBefore(stepId) {
    if (stepId === null) {
      let n = 0;
      for (const log of this.byIndex) {
        n += Math.max(0, log.first);
      }
      return n;
    }
    return Math.max(0, this.steps.get(stepId)?.first ?? 0);
  }
  clear() {
    this.steps.clear();
    this.byIndex.length = 0;
    this.refs = [];
    this.head = 0;
    this.total = 0;
    this.droppedTotal = 0;
    this.version++;
  }
};

// widget/reducer.ts
function createState(executionId = "", maxLines = DEFAULT_MAX_LINES) {
  return {
    executionId,
    seq: 0,
    execution: executionId ? { execution_id: executionId } : {},
    steps: /* @__PURE__ */ new Map(),
    order: [],
    logs: new LogStore(maxLines),
    dirty: { header: true, steps: true, logs: true }
  };
}
function resetState(state, executionId) {
  state.executionId = executionId;
  state.seq = 0;
  state.execution = executionId ? { execution_id: executionId } : {};
  state.steps.clear();
  state.order.length = 0;
  state.logs.clear();
  markAll(state);
}
function markAll(state) {
  state.dirty.header = state.dirty.steps = state.dirty.logs = true;
}
function upsertStep(state, data) {
  const existing = state.steps.get(data.step_id);
  if (existing) {
    Object.assign(existing, data);
  } else {
    state.steps.set(data.step_id, { ...data });
    state.order.push(data.step_id);
  }
}
function applyEvent(state, event) {
  if (!event || typeof event !== "object" || event.type === "heartbeat") {
    return state;
  }
  if (event.execution_id && state.executionId && event.execution_id !== state.executionId) {
    if (event.type !== "snapshot") {
      return state;
    }
    resetState(state, event.execution_id);
  }
  if (!state.executionId && event.execution_id) {
    state.executionId = event.execution_id;
  }
  const seq = typeof event.seq === "number" ? event.seq : null;
  if (event.type === "log_update") {
    const data = event.data;
    if (data && typeof data.step_id === "string" && Array.isArray(data.lines)) {
      state.logs.add(data.step_id, Number(data.offset) || 0, data.lines, data.ts, event.ts ?? Date.now() / 1e3);
      if (!state.steps.has(data.step_id)) {
        upsertStep(state, { step_id: data.step_id });
        state.dirty.steps = true;
      }
      state.dirty.logs = true;
    }
    if (seq !== null && seq > state.seq) {
      state.seq = seq;
    }
    return state;
  }
  if (seq !== null && seq <= state.seq) {
    return state;
  }
  if (seq !== null) {
    state.seq = seq;
  }
  switch (event.type) {
    case "snapshot": {
      const data = event.data;
      state.execution = { ...data.execution ?? {} };
      if (!state.executionId && state.execution.execution_id) {
        state.executionId = state.execution.execution_id;
      }
      state.steps.clear();
      state.order.length = 0;
      for (const step of data.steps ?? []) {
        if (step && typeof step.step_id === "string") {
          upsertStep(state, step);
        }
      }
      markAll(state);
      break;
    }
    case "execution_update":
      Object.assign(state.execution, event.data);
      state.dirty.header = true;
      state.dirty.steps = true;
      break;
    case "step_update": {
      const data = event.data;
      if (data && typeof data.step_id === "string") {
        upsertStep(state, data);
        state.dirty.steps = true;
        state.dirty.header = true;
      }
      break;
    }
    default:
      break;
  }
  return state;
}
function applyEvents(state, events) {
  for (const event of Array.isArray(events) ? events : [events]) {
    applyEvent(state, event);
  }
  return state;
}
function progress(state) {
  const total = state.execution.steps_total ?? state.order.length;
  let done = state.execution.steps_done;
  if (done === void 0) {
    done = 0;
    for (const step of state.steps.values()) {
      if (step.status && !["pending", "running"].includes(step.status)) {
        done++;
      }
    }
  }
  return { done, total: Math.max(total, state.order.length) };
}

// test/helpers.ts
var EXEC = "ex-1";
function env(seq, type, data, executionId = EXEC) {
  return { v: 1, seq, type, execution_id: executionId, ts: 1e3 + (seq ?? 0), data };
}
function snapshot(seq, steps, execution = {}) {
  return env(seq, "snapshot", {
    execution: { execution_id: EXEC, pipeline_name: "demo", status: "running", steps_total: steps.length, steps_done: 0, ...execution },
    steps
  });
}
function logs(seq, stepId, offset, lines2) {
  return env(seq, "log_update", { step_id: stepId, stream: "stdout", offset, lines: lines2, ts: lines2.map((_, i) => 2e3 + offset + i) });
}

// test/reducer.test.ts
var lines = (state, step) => Array.from({ length: state.logs.count(step) }, (_, i) => state.logs.row(step, i)?.line ?? "?");
describe("applyEvent", () => {
  it("applies a snapshot then updates", () => {
    const state = createState(EXEC);
    applyEvents(state, [
      snapshot(3, [{ step_id: "a", name: "A", status: "pending" }, { step_id: "b", status: "pending", needs: ["a"] }]),
      env(4, "step_update", { step_id: "a", status: "running", attempt: 1, started_at: 10 }),
      env(5, "execution_update", { status: "running", steps_done: 0 })
    ]);
    assert.equal(state.seq, 5);
    assert.deepEqual(state.order, ["a", "b"]);
    assert.equal(state.steps.get("a")?.status, "running");
    assert.equal(state.steps.get("a")?.name, "A", "a step_update merges, it does not replace");
    assert.equal(state.execution.pipeline_name, "demo");
    assert.deepEqual(progress(state), { done: 0, total: 2 });
  });
  it("ignores events at or below the last seq (duplicates and out-of-order)", () => {
    const state = createState(EXEC);
    applyEvent(state, snapshot(1, [{ step_id: "a", status: "pending" }]));
    applyEvent(state, env(3, "step_update", { step_id: "a", status: "success" }));
    applyEvent(state, env(2, "step_update", { step_id: "a", status: "running" }));
    applyEvent(state, env(3, "step_update", { step_id: "a", status: "failed" }));
    assert.equal(state.steps.get("a")?.status, "success");
    assert.equal(state.seq, 3);
    applyEvent(state, snapshot(2, [{ step_id: "a", status: "pending" }]));
    assert.equal(state.steps.get("a")?.status, "success", "an older snapshot changes nothing");
  });
  it("ignores heartbeats and events of another execution", () => {
    const state = createState(EXEC);
    applyEvent(state, env(null, "heartbeat", {}));
    applyEvent(state, env(1, "step_update", { step_id: "x", status: "running" }, "other"));
    assert.equal(state.steps.size, 0);
    assert.equal(state.seq, 0);
  });
  it("resets on a snapshot of a new execution (re-run)", () => {
    const state = createState(EXEC);
    applyEvents(state, [snapshot(5, [{ step_id: "a" }]), logs(6, "a", 0, ["old"])]);
    applyEvent(state, env(2, "snapshot", { execution: { execution_id: "ex-2" }, steps: [{ step_id: "z" }] }, "ex-2"));
    assert.equal(state.executionId, "ex-2");
    assert.equal(state.seq, 2);
    assert.deepEqual(state.order, ["z"]);
    assert.equal(state.logs.total, 0);
  });
  it("places log lines by offset and never duplicates them", () => {
    const state = createState(EXEC);
    applyEvents(state, [snapshot(1, [{ step_id: "a" }, { step_id: "b" }]), logs(2, "a", 0, ["a0", "a1"]), logs(3, "b", 0, ["b0"])]);
    applyEvent(state, logs(4, "a", 1, ["a1", "a2"]));
    applyEvent(state, logs(2, "a", 0, ["a0", "a1"]));
    assert.deepEqual(lines(state, "a"), ["a0", "a1", "a2"]);
    assert.deepEqual(lines(state, null), ["a0", "a1", "b0", "a2"], "all steps keep arrival order");
    assert.equal(state.seq, 4);
    assert.equal(state.logs.row("a", 2)?.ts, 2002);
  });
  it("marks a gap and back-fills history before the first line held", () => {
    const state = createState(EXEC);
    applyEvents(state, [snapshot(1, [{ step_id: "a", log_lines: 3 }]), logs(2, "a", 3, ["l3"])]);
    assert.equal(state.logs.hiddenBefore("a"), 3);
    applyEvent(state, logs(null, "a", 0, ["l0", "l1", "l2"]));
    assert.deepEqual(lines(state, "a"), ["l0", "l1", "l2", "l3"]);
    assert.deepEqual(lines(state, null), ["l0", "l1", "l2", "l3"]);
    assert.equal(state.logs.hiddenBefore("a"), 0);
    applyEvent(state, logs(3, "a", 6, ["l6"]));
    const all = lines(state, "a");
    assert.match(all[4], /2 lines not received/);
    assert.equal(all[5], "l6");
  });
  it("caps memory by dropping the oldest lines across steps", () => {
    const state = createState(EXEC, 10);
    applyEvent(state, snapshot(1, [{ step_id: "a" }, { step_id: "b" }]));
    let seq = 2;
    for (let i = 0; i < 8; i++) {
      applyEvent(state, logs(seq++, "a", i, [`a${i}`]));
      applyEvent(state, logs(seq++, "b", i, [`b${i}`]));
    }
    assert.ok(state.logs.total <= 10, `total ${state.logs.total}`);
    assert.equal(state.logs.total + state.logs.droppedTotal, 16);
    const all = lines(state, null);
    assert.equal(all[all.length - 1], "b7");
    assert.equal(all.length, state.logs.total);
    const a = lines(state, "a");
    assert.equal(a[a.length - 1], "a7");
    assert.equal(state.logs.hiddenBefore("a") + a.length, 8);
    assert.equal(state.logs.row("a", 0)?.line, `a${8 - a.length}`);
  });
  it("keeps a million lines in bounded arrays quickly", () => {
    const state = createState(EXEC, 2e5);
    applyEvent(state, snapshot(1, [{ step_id: "a" }]));
    const batch = Array.from({ length: 1e3 }, (_, i) => `line ${i}`);
    const t0 = Date.now();
    for (let i = 0; i < 1e3; i++) {
      applyEvent(state, logs(i + 2, "a", i * 1e3, batch));
    }
    assert.ok(state.logs.total <= 2e5);
    assert.equal(state.logs.steps.get("a")?.next, 1e6);
    assert.ok(Date.now() - t0 < 5e3, "reducer too slow");
  });
});
