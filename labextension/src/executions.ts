/** The sidebar's pure parts (no JupyterLab imports, so node tests load them). */
import type { ExecutionInfo } from '../widget/types';

/** One pipeline file as `GET pipelines` lists it. */
export interface PipelineFile {
  path: string;
  name: string;
  /** `workflow`: a GitHub Actions workflow file (listed in its own group). */
  kind: 'pipeline' | 'workflow';
}

/** The `GET pipelines` answer: a list of `{path, name, steps}`; throws on any other shape. */
export function parsePipelines(answer: unknown): PipelineFile[] {
  if (!Array.isArray(answer)) {
    throw new Error('the pipelines endpoint did not answer a list');
  }
  return answer.map(item => {
    const { path, name, kind } = item as { path?: unknown; name?: unknown; kind?: unknown };
    if (typeof path !== 'string') {
      throw new Error('a pipeline without a path');
    }
    return {
      path,
      name: typeof name === 'string' && name ? name : path,
      kind: kind === 'workflow' ? 'workflow' : 'pipeline'
    };
  });
}

/** `14:03` today, `Nov 29 14:03` on another day (the sidebar's start times). */
export function formatWhen(epochSeconds: number, now = new Date()): string {
  const d = new Date(epochSeconds * 1000);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === now.toDateString()) {
    return time;
  }
  const day = d.toLocaleDateString([], {
    month: 'short',
    day: 'numeric',
    year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric'
  });
  return `${day} ${time}`;
}

/** The executions that pass the status and pipeline filters ('' = any). */
export function filterExecutions(list: readonly ExecutionInfo[], status: string, pipeline: string): ExecutionInfo[] {
  const needle = pipeline.trim().toLowerCase();
  return list.filter(ex => (!status || ex.status === status) && (!needle || (ex.pipeline_name ?? '').toLowerCase().includes(needle)));
}
