/**
 * What the DAG draws: steps, with the legs of a matrix (same `template_id`) folded into
 * one group node that shows how many legs there are and how they fare. An expanded group
 * shows its legs (with their matrix values) under a header node that folds it again.
 */
import { type Category, CATEGORY_LABEL, categoryOf } from './status';
import type { StepInfo } from './types';

export interface GroupInfo {
  /** The template id: the group's key. */
  id: string;
  label: string;
  legs: StepInfo[];
  status: string;
  category: Category;
  /** "4 legs · 3 passed · 1 failed" */
  summary: string;
  /** "python=3.11, python=3.12": every leg's matrix values. */
  values: string;
}

export type GraphNode =
  | { kind: 'step'; id: string; step: StepInfo; needs: string[]; group?: string }
  | { kind: 'group'; id: string; group: GroupInfo; needs: string[]; expanded: boolean; layerOf?: string };

/** Node id of a group (never a valid step id: step ids have no spaces). */
export const groupNodeId = (templateId: string): string => `group ${templateId}`;

const LEG_ID = /^(.+)\[([^=\],]+=[^\],]*(?:,[^=\],]+=[^\],]*)*)\]$/;

/**
 * A matrix leg's template id and values: the step's `template_id`/`matrix` fields, or,
 * from a server that does not send them, its expanded id `tests[python=3.11,os=linux]`.
 */
export function legOf(step: StepInfo): { template: string; matrix: Record<string, string> } | null {
  if (step.template_id) {
    return step.template_id === step.step_id ? null : { template: step.template_id, matrix: step.matrix ?? {} };
  }
  const m = LEG_ID.exec(step.step_id);
  if (!m) return null;
  const matrix: Record<string, string> = {};
  for (const kv of m[2].split(',')) {
    const at = kv.indexOf('=');
    matrix[kv.slice(0, at)] = kv.slice(at + 1);
  }
  return { template: m[1], matrix };
}

/** Groups of two or more legs sharing a template id, in file order. */
export function matrixGroups(steps: readonly StepInfo[]): Map<string, StepInfo[]> {
  const groups = new Map<string, StepInfo[]>();
  for (const step of steps) {
    const leg = legOf(step);
    if (leg) {
      const legs = groups.get(leg.template) ?? [];
      legs.push(step);
      groups.set(leg.template, legs);
    }
  }
  for (const [id, legs] of groups) {
    if (legs.length < 2) groups.delete(id);
  }
  return groups;
}

/** The status a group shows: what needs attention first. */
export function groupStatus(legs: readonly StepInfo[]): { status: string; category: Category } {
  const cats = legs.map(categoryOf);
  const has = (c: Category): boolean => cats.includes(c);
  if (has('running')) return { status: 'running', category: 'running' };
  if (has('failed')) return { status: 'failed', category: 'failed' };
  if (has('pending')) {
    return cats.every(c => c === 'pending') ? { status: 'pending', category: 'pending' } : { status: 'running', category: 'running' };
  }
  if (has('cancelled')) return { status: 'cancelled', category: 'cancelled' };
  if (cats.every(c => c === 'skipped')) return { status: 'skipped', category: 'skipped' };
  if (has('allowed-failure')) return { status: 'failed', category: 'allowed-failure' };
  if (cats.every(c => c === 'reused')) return { status: 'success', category: 'reused' };
  if (cats.every(c => c === 'cached')) return { status: 'success', category: 'cached' };
  return { status: 'success', category: 'success' };
}

function groupInfo(id: string, legs: StepInfo[]): GroupInfo {
  const counts = new Map<Category, number>();
  for (const leg of legs) counts.set(categoryOf(leg), (counts.get(categoryOf(leg)) ?? 0) + 1);
  const parts = [...counts].map(([c, n]) => `${n} ${CATEGORY_LABEL[c]}`);
  const values = legs
    .map(leg => {
      const matrix = legOf(leg)?.matrix ?? {};
      return Object.keys(matrix).length
        ? Object.entries(matrix)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
        : leg.step_id;
    })
    .join(', ');
  // Legs named by their values (`Tests on ${{ matrix.python }}`) differ: the first one's
  // name would pass for the whole group, so the group goes by its step id instead.
  const names = legs.map(leg => (leg.name || leg.step_id).replace(/\s*(\[[^\]]*\]|\([^)]*\))$/, ''));
  const label = (names.every(n => n === names[0]) && names[0]) || id;
  return { id, label, legs, ...groupStatus(legs), summary: `${legs.length} legs · ${parts.join(' · ')}`, values };
}

/**
 * The nodes to draw. `expanded` holds template ids the user opened; a group is also open
 * while its selected leg is shown, unless the user folded it (`folded`).
 */
export function graphNodes(
  steps: readonly StepInfo[],
  expanded: ReadonlySet<string>,
  folded: ReadonlySet<string>,
  selected: string | null
): GraphNode[] {
  const groups = matrixGroups(steps);
  const open = new Set<string>();
  for (const [id, legs] of groups) {
    if (expanded.has(id) || (!folded.has(id) && legs.some(leg => leg.step_id === selected))) open.add(id);
  }
  // A folded leg's edges go to its group node.
  const templateOf = new Map<string, string>();
  for (const [t, legs] of groups) for (const leg of legs) templateOf.set(leg.step_id, t);
  const nodeOf = (stepId: string, step?: StepInfo): string => {
    const t = step ? templateOf.get(step.step_id) : undefined;
    return t && groups.has(t) && !open.has(t) ? groupNodeId(t) : stepId;
  };
  const byId = new Map(steps.map(s => [s.step_id, s]));
  const mapNeeds = (needs: readonly string[], self: string): string[] => {
    const out = new Set<string>();
    for (const need of needs) {
      const target = nodeOf(need, byId.get(need));
      if (target !== self) out.add(target);
    }
    return [...out];
  };
  const nodes: GraphNode[] = [];
  const emitted = new Set<string>();
  for (const step of steps) {
    const t = templateOf.get(step.step_id);
    const legs = t ? groups.get(t) : undefined;
    if (!t || !legs) {
      nodes.push({ kind: 'step', id: step.step_id, step, needs: mapNeeds(step.needs ?? [], step.step_id) });
      continue;
    }
    if (emitted.has(t)) {
      if (open.has(t)) nodes.push({ kind: 'step', id: step.step_id, step, needs: mapNeeds(step.needs ?? [], step.step_id), group: t });
      continue;
    }
    emitted.add(t);
    const id = groupNodeId(t);
    const info = groupInfo(t, legs);
    if (open.has(t)) {
      // The header sits in its legs' layer, without edges of its own.
      nodes.push({ kind: 'group', id, group: info, needs: [], expanded: true, layerOf: step.step_id });
      nodes.push({ kind: 'step', id: step.step_id, step, needs: mapNeeds(step.needs ?? [], step.step_id), group: t });
    } else {
      const needs = mapNeeds(
        legs.flatMap(leg => leg.needs ?? []),
        id
      );
      nodes.push({ kind: 'group', id, group: info, needs, expanded: false });
    }
  }
  return nodes;
}
