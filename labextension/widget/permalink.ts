/**
 * Line permalinks: `{base}lab?ansflow-execution=ID&ansflow-step=STEP&ansflow-line=N`
 * (N counts from 1, as the gutter shows). JupyterLab's router hands the query to the
 * extension, which opens the execution panel at that line. Never carries the token:
 * whoever opens it logs in as usual.
 */
import { httpBase } from './transport';

export const PARAM_EXECUTION = 'ansflow-execution';
export const PARAM_STEP = 'ansflow-step';
export const PARAM_LINE = 'ansflow-line';

/** Where a permalink points: one line (0-based `offset`) of one step of one execution. */
export interface LineTarget {
  executionId: string;
  stepId: string;
  offset: number;
}

/** The link to a line; `base` is the server's base URL (a path or a full URL). */
export function permalinkUrl(base: string, target: LineTarget): string {
  const query = new URLSearchParams({
    [PARAM_EXECUTION]: target.executionId,
    [PARAM_STEP]: target.stepId,
    [PARAM_LINE]: String(target.offset + 1)
  });
  return `${httpBase(base)}lab?${query.toString()}`;
}

/** The line a URL query (`?…`) points at, or null when it is not a complete permalink. */
export function parsePermalink(search: string): LineTarget | null {
  const params = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const executionId = params.get(PARAM_EXECUTION) ?? '';
  const stepId = params.get(PARAM_STEP) ?? '';
  const line = Number(params.get(PARAM_LINE));
  if (!executionId || !stepId || !Number.isInteger(line) || line < 1) {
    return null;
  }
  return { executionId, stepId, offset: line - 1 };
}

/** Copy a link to the clipboard; the words to show the user. */
export async function copyLink(href: string): Promise<string> {
  const clip = typeof navigator !== 'undefined' ? navigator.clipboard : undefined;
  try {
    if (!clip) throw new Error('no clipboard');
    await clip.writeText(href);
    return 'link copied';
  } catch {
    return 'copy failed: right-click the link icon';
  }
}
