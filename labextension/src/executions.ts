/** The sidebar's pure parts (no JupyterLab imports, so node tests load them). */
import type { paths } from '../widget/api.generated';
import type { ExecutionInfo } from '../widget/types';

/** What `GET pipelines` answers, as openapi.yaml (generated types) says. */
type PipelinesAnswer = paths['/ansflow/api/pipelines']['get']['responses'][200]['content']['application/json'];
/** What `POST executions` answers when it started a run. */
export type StartedAnswer = paths['/ansflow/api/executions']['post']['responses'][201]['content']['application/json'];

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
  return (answer as PipelinesAnswer).map(item => {
    const { path, name, kind } = item;
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

/** The new execution's id from a `POST executions` answer; throws when there is none. */
export function parseStarted(answer: unknown): { execution_id: string; pipeline_name: string } {
  const started = (answer && typeof answer === 'object' ? answer : {}) as StartedAnswer;
  if (typeof started.execution_id !== 'string' || !started.execution_id) {
    throw new Error('the server did not return the new execution id');
  }
  return { execution_id: started.execution_id, pipeline_name: started.pipeline_name ?? '' };
}
