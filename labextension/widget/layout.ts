/**
 * DAG layout in layers (a small Sugiyama): layer = longest path from a root; an edge that
 * skips layers runs through dummy slots, so every edge only crosses the gaps between
 * layers and the free slots inside them, never a node; barycenter sweeps order each layer
 * to reduce crossings; each node is then pulled towards its neighbours' height, so a
 * fan-out is centred on its source instead of hanging from it like a comb.
 */

const GRID_COLUMNS = 4;
/** Vertical room of a dummy slot (an edge passing a layer), in node rows. */
const DUMMY_SIZE = 0.36;
const SWEEPS = 6;

export interface LayoutInput {
  step_id: string;
  needs?: string[];
  /** Nodes of one group (matrix legs) stay next to each other within a layer. */
  group?: string;
  /** Placed in the layer of this node (a group's header beside its legs). */
  sameLayerAs?: string;
}

/** One edge: its ends and the points it passes, as [layer, y] in row units (y = centre). */
export interface Route {
  from: string;
  to: string;
  points: Array<[number, number]>;
}

export interface Layout {
  /** step id -> [layer, y]; y is the node's top in row units (a row = one node + gap). */
  positions: Map<string, [number, number]>;
  layers: number;
  /** Height in row units. */
  rows: number;
  edges: Array<[string, string]>;
  routes: Route[];
}

interface Slot {
  id: string;
  /** Index in the input (dummies: their source's), the tie-break that keeps file order. */
  index: number;
  group: string;
  size: number;
  preds: Slot[];
  succs: Slot[];
  pos: number;
  y: number;
}

/** Positions and edge routes of the DAG (a plain grid when no `needs` are known). */
export function layoutDag(steps: readonly LayoutInput[]): Layout {
  const byId = new Map(steps.map(s => [s.step_id, s]));
  const layerOf = new Map<string, number>();
  const visiting = new Set<string>();
  const layer = (id: string): number => {
    const known = layerOf.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle cannot come from a valid pipeline; do not recurse forever
    visiting.add(id);
    let l = 0;
    const beside = byId.get(id)?.sameLayerAs;
    if (beside && byId.has(beside)) l = layer(beside);
    for (const need of byId.get(id)?.needs ?? []) {
      if (byId.has(need)) l = Math.max(l, layer(need) + 1);
    }
    visiting.delete(id);
    layerOf.set(id, l);
    return l;
  };
  const edges: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (const step of steps) {
    layer(step.step_id);
    for (const need of step.needs ?? []) {
      const key = `${need}\u0000${step.step_id}`;
      if (byId.has(need) && need !== step.step_id && !seen.has(key)) {
        seen.add(key);
        edges.push([need, step.step_id]);
      }
    }
  }
  if (edges.length === 0 && steps.length > 1) return gridLayout(steps);

  const layers: Slot[][] = [];
  const slotOf = new Map<string, Slot>();
  const add = (slot: Slot, l: number): Slot => {
    if (!layers[l]) layers[l] = [];
    layers[l].push(slot);
    return slot;
  };
  steps.forEach((step, index) => {
    const slot: Slot = { id: step.step_id, index, group: step.group ?? '', size: 1, preds: [], succs: [], pos: 0, y: 0 };
    slotOf.set(step.step_id, add(slot, layerOf.get(step.step_id) ?? 0));
  });
  // Long edges become chains through dummy slots, one per layer they pass.
  const chains: Array<{ from: string; to: string; slots: Slot[] }> = [];
  for (const [from, to] of edges) {
    const a = slotOf.get(from) as Slot;
    const b = slotOf.get(to) as Slot;
    const la = layerOf.get(from) ?? 0;
    const lb = layerOf.get(to) ?? 0;
    if (lb <= la) continue; // only a cycle does this
    const chain = [a];
    for (let l = la + 1; l < lb; l++) {
      chain.push(add({ id: '', index: a.index, group: '', size: DUMMY_SIZE, preds: [], succs: [], pos: 0, y: 0 }, l));
    }
    chain.push(b);
    for (let i = 1; i < chain.length; i++) {
      chain[i - 1].succs.push(chain[i]);
      chain[i].preds.push(chain[i - 1]);
    }
    chains.push({ from, to, slots: chain });
  }
  for (let l = 0; l < layers.length; l++) layers[l] ??= [];
  order(layers);
  placeY(layers);

  const positions = new Map<string, [number, number]>();
  let bottom = 0;
  layers.forEach((slots, l) => {
    for (const s of slots) {
      bottom = Math.max(bottom, s.y + s.size);
      if (s.id) positions.set(s.id, [l, s.y]);
    }
  });
  const routes: Route[] = chains.map(({ from, to, slots }) => ({
    from,
    to,
    points: slots.map(s => [layerOf.get(from) ?? 0, s.y + s.size / 2] as [number, number]).map(([l0, y], i) => [l0 + i, y])
  }));
  return { positions, layers: layers.length, rows: bottom, edges, routes };
}

/** Barycenter sweeps down and up; keeps the order with the fewest crossings. */
function order(layers: Slot[][]): void {
  const renumber = (slots: Slot[]): void => {
    slots.forEach((s, i) => {
      s.pos = i;
    });
  };
  for (const slots of layers) {
    slots.sort((a, b) => a.index - b.index || a.size - b.size);
    groupTogether(slots, s => s.index);
    renumber(slots);
  }
  let best = layers.map(slots => [...slots]);
  let bestCrossings = crossings(layers);
  for (let sweep = 0; sweep < SWEEPS && bestCrossings > 0; sweep++) {
    const down = sweep % 2 === 0;
    const range = down
      ? layers.map((_, i) => i).slice(1)
      : layers
          .map((_, i) => i)
          .reverse()
          .slice(1);
    for (const l of range) {
      const slots = layers[l];
      const key = new Map<Slot, number>();
      for (const s of slots) {
        const near = down ? s.preds : s.succs;
        key.set(s, near.length ? near.reduce((sum, n) => sum + n.pos, 0) / near.length : s.pos);
      }
      groupTogether(slots, s => key.get(s) ?? 0);
      renumber(slots);
    }
    const now = crossings(layers);
    if (now < bestCrossings) {
      bestCrossings = now;
      best = layers.map(slots => [...slots]);
    }
  }
  best.forEach((slots, l) => {
    layers[l] = slots;
    renumber(slots);
  });
}

/** Sort a layer by key, the members of a group kept together at their mean key. */
function groupTogether(slots: Slot[], key: (s: Slot) => number): void {
  const sums = new Map<string, [number, number]>();
  for (const s of slots) {
    if (!s.group) continue;
    const [sum, n] = sums.get(s.group) ?? [0, 0];
    sums.set(s.group, [sum + key(s), n + 1]);
  }
  const k = (s: Slot): number => {
    const g = s.group ? sums.get(s.group) : undefined;
    return g ? g[0] / g[1] : key(s);
  };
  const keys = new Map(slots.map(s => [s, k(s)]));
  slots.sort(
    (a, b) =>
      (keys.get(a) ?? 0) - (keys.get(b) ?? 0) ||
      (a.group < b.group ? -1 : a.group > b.group ? 1 : 0) ||
      // Within a group the legs keep file order: the matrix reads top to bottom.
      (a.group ? a.index - b.index : key(a) - key(b)) ||
      a.index - b.index
  );
}

/** Edge crossings between adjacent layers (pairs of edges whose ends swap order). */
export function crossings(layers: Slot[][]): number {
  let total = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    const width = layers[l + 1].length + 1;
    let n = 0;
    for (const s of layers[l]) n += s.succs.length;
    // Each edge as one number (source position major, target minor): a typed-array sort.
    const keys = new Float64Array(n);
    let k = 0;
    for (const s of layers[l]) for (const t of s.succs) keys[k++] = s.pos * width + t.pos;
    keys.sort();
    // Inversions of the target positions, counted with a Fenwick tree: O(E log V).
    const tree = new Int32Array(width + 1);
    for (let seen = 0; seen < n; seen++) {
      const t = keys[seen] % width;
      let notAfter = 0;
      for (let i = t + 1; i > 0; i -= i & -i) notAfter += tree[i];
      total += seen - notAfter;
      for (let i = t + 1; i <= width; i += i & -i) tree[i]++;
    }
  }
  return total;
}

/**
 * Heights: each layer in turn goes as near as it can to where its neighbours want it
 * (the mean centre of the nodes it links to), in order and without overlaps: a least
 * squares fit under those constraints (pool adjacent violators), a few sweeps down and up.
 */
function placeY(layers: Slot[][]): void {
  for (const slots of layers) {
    let y = 0;
    for (const s of slots) {
      s.y = y;
      y += s.size;
    }
  }
  const centre = (s: Slot): number => s.y + s.size / 2;
  for (let pass = 0; pass < 8; pass++) {
    const down = pass % 2 === 0;
    const range = down ? layers.map((_, i) => i) : layers.map((_, i) => i).reverse();
    for (const l of range) {
      const slots = layers[l];
      const wants = slots.map(s => {
        const near = down ? s.preds : s.succs;
        const all = near.length ? near : [...s.preds, ...s.succs];
        return all.length ? all.reduce((sum, n) => sum + centre(n), 0) / all.length - s.size / 2 : Number.NaN;
      });
      // A slot without edges (a group's header) sits on top of what follows it in its group.
      for (let i = slots.length - 1; i >= 0; i--) {
        if (Number.isNaN(wants[i])) {
          const next = slots[i + 1];
          wants[i] = next?.group && next.group === slots[i].group ? wants[i + 1] - slots[i].size : slots[i].y;
        }
      }
      fitInOrder(slots, wants);
    }
  }
  let min = Infinity;
  for (const slots of layers) for (const s of slots) min = Math.min(min, s.y);
  if (Number.isFinite(min)) for (const slots of layers) for (const s of slots) s.y -= min;
}

/** y closest to `wants` (least squares) keeping order and sizes: isotonic regression. */
function fitInOrder(slots: Slot[], wants: number[]): void {
  // With z = y - (sizes above), "no overlap" is just "z never decreases".
  let offset = 0;
  const blocks: Array<{ sum: number; weight: number; count: number }> = [];
  slots.forEach((s, i) => {
    const weight = s.id ? 1 : 0.5; // real nodes matter more than edges passing by
    blocks.push({ sum: (wants[i] - offset) * weight, weight, count: 1 });
    offset += s.size;
    while (blocks.length > 1) {
      const b = blocks[blocks.length - 1];
      const a = blocks[blocks.length - 2];
      if (a.sum / a.weight <= b.sum / b.weight) break;
      a.sum += b.sum;
      a.weight += b.weight;
      a.count += b.count;
      blocks.pop();
    }
  });
  let i = 0;
  offset = 0;
  for (const b of blocks) {
    const z = b.sum / b.weight;
    for (let k = 0; k < b.count; k++, i++) {
      slots[i].y = z + offset;
      offset += slots[i].size;
    }
  }
}

/** Without dependency data one tall column wastes the width: wrap the steps, row by row. */
function gridLayout(steps: readonly LayoutInput[]): Layout {
  const cols = Math.min(GRID_COLUMNS, steps.length);
  const positions = new Map<string, [number, number]>();
  steps.forEach((step, i) => {
    positions.set(step.step_id, [i % cols, Math.floor(i / cols)]);
  });
  return { positions, layers: cols, rows: Math.ceil(steps.length / cols), edges: [], routes: [] };
}
