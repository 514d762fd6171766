/** DAG layout: layer = longest path from a root, rows keep the server's (file) order. */

const GRID_COLUMNS = 4;

export interface LayoutInput {
  step_id: string;
  needs?: string[];
}

export interface Layout {
  /** step id -> [layer, row within layer] */
  positions: Map<string, [number, number]>;
  layers: number;
  rows: number;
  edges: Array<[string, string]>;
}

/** Grid positions and edges of the DAG (a plain grid when no `needs` are known). */
export function layoutDag(steps: readonly LayoutInput[]): Layout {
  const byId = new Map(steps.map(s => [s.step_id, s]));
  const layerOf = new Map<string, number>();
  const visiting = new Set<string>();
  const layer = (id: string): number => {
    const known = layerOf.get(id);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(id)) {
      return 0; // a cycle cannot come from a valid pipeline; do not recurse forever
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
  const positions = new Map<string, [number, number]>();
  const rowsPerLayer: number[] = [];
  const edges: Array<[string, string]> = [];
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
  if (edges.length === 0 && steps.length > 1) {
    return gridLayout(steps);
  }
  return { positions, layers: rowsPerLayer.length, rows: Math.max(0, ...rowsPerLayer.map(r => r ?? 0)), edges };
}

/** Without dependency data one tall column wastes the width: wrap the steps, row by row. */
function gridLayout(steps: readonly LayoutInput[]): Layout {
  const cols = Math.min(GRID_COLUMNS, steps.length);
  const positions = new Map<string, [number, number]>();
  steps.forEach((step, i) => {
    positions.set(step.step_id, [i % cols, Math.floor(i / cols)]);
  });
  return { positions, layers: cols, rows: Math.ceil(steps.length / cols), edges: [] };
}
