/**
 * A rendermime renderer for `application/vnd.ansflow.execution+json`: the live execution
 * view of a server-mode `%ansflow run` output, driven by the server's WebSocket by
 * execution id (the same view code as the notebook widget and the execution panel).
 *
 * A saved notebook keeps this mime type in the cell output, so reopening it shows the live
 * (or finished) execution with JupyterLab's default settings and without the kernel that
 * ran it. ipywidgets' renderer cannot do that: without saved widget state its model is
 * gone and it shows "Error displaying widget: model not found". This factory therefore
 * ranks before it (RENDERER_RANK < the widget view's -10). Live behaviour is the same: in
 * server mode the widget view follows the same WebSocket and acts over the same REST API.
 * Embedded-mode outputs never carry this mime type (their view needs the kernel's comm).
 */
import { PageConfig } from '@jupyterlab/coreutils';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';
import { runsOf } from '../widget/ui';
import { mountExecutionView } from '../widget/view';
import { LocalModel } from './localmodel';

export const EXECUTION_MIME_TYPE = 'application/vnd.ansflow.execution+json';

/** Lower wins: before ipywidgets' widget view (-10) and every standard renderer. */
export const RENDERER_RANK = -20;

/** The execution id of a bundle entry, or '' when it is not a usable one. */
export function executionIdOf(data: unknown): string {
  if (!data || typeof data !== 'object') {
    return '';
  }
  const id = (data as { execution_id?: unknown }).execution_id;
  return typeof id === 'string' ? id.trim() : '';
}

export class ExecutionRenderer extends Widget implements IRenderMime.IRenderer {
  private cleanup: (() => void) | null = null;
  private executionId = '';

  constructor(readonly mimeType: string) {
    super();
    this.addClass('ansflow-output');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const id = executionIdOf(model.data[this.mimeType]);
    if (this.cleanup && id === this.executionId) {
      return; // the same execution: the mounted view already follows it
    }
    this.cleanup?.();
    this.cleanup = null;
    this.executionId = id;
    if (!id) {
      this.node.textContent = 'AnsFlow: this output names no execution.';
      return;
    }
    // The saved `base_url` is not used: the notebook may come from anyone, and this page's
    // server (whose token the view sends) is the one that holds the execution.
    const values = { execution_id: id, base_url: PageConfig.getBaseUrl(), ws_url: '', mode: 'server' };
    const local = new LocalModel(values);
    // Re-run switches the view to the new execution: write its id into the output, so the
    // saved notebook reopens on the execution the view showed last.
    local.on('change:execution_id', () => this.follow(model, String(local.get('execution_id'))));
    // When the run ends, the output's text summary says so: a saved notebook then shows
    // the final state in nbconvert, GitHub and front ends without this extension.
    const onFinished = (summary: Record<string, string>): void => {
      if (model.data['text/plain'] !== summary['text/plain']) {
        model.setData({ data: { ...model.data, ...summary } });
      }
    };
    // The cell's earlier runs (re-runs) are saved in the output too: after a reload the
    // runs selector still lists them, and picking one loads it from the server.
    const runs = runsOf(model.data[this.mimeType]);
    const onRuns = (list: string[]): void => this.saveRuns(model, list);
    this.cleanup = mountExecutionView(this.node, local, { onFinished, runs, onRuns });
  }

  private saveRuns(model: IRenderMime.IMimeModel, runs: string[]): void {
    const entry = model.data[this.mimeType];
    const previous = entry && typeof entry === 'object' ? (entry as Record<string, unknown>) : {};
    const saved = runsOf(previous);
    // One run is what the output already names: do not mark the notebook changed for it.
    if (saved.join(',') === runs.join(',') || (saved.length === 0 && runs.length <= 1)) {
      return;
    }
    model.setData({ data: { ...model.data, [this.mimeType]: { ...previous, runs } } });
  }

  private follow(model: IRenderMime.IMimeModel, id: string): void {
    if (!id || id === this.executionId) {
      return;
    }
    this.executionId = id; // renderModel with this id keeps the mounted view
    const entry = model.data[this.mimeType];
    const previous = entry && typeof entry === 'object' ? (entry as Record<string, unknown>) : {};
    model.setData({ data: { ...model.data, [this.mimeType]: { ...previous, execution_id: id } } });
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.cleanup?.();
    this.cleanup = null;
    super.dispose();
  }
}

export const executionRendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [EXECUTION_MIME_TYPE],
  defaultRank: RENDERER_RANK,
  createRenderer: options => new ExecutionRenderer(options.mimeType)
};
