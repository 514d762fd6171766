/** Main-area panel showing one execution with the same view as the notebook widget. */
import { PageConfig } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';
import { mountExecutionView } from '../widget/view';
import { LocalModel } from './localmodel';

export class ExecutionPanel extends Widget {
  readonly model: LocalModel;
  private cleanup: (() => void) | null = null;

  constructor(executionId: string, pipelineName = '') {
    super();
    this.id = `ansflow-execution-${executionId}`;
    this.addClass('ansflow-main');
    this.title.closable = true;
    this.model = new LocalModel({ execution_id: executionId, base_url: PageConfig.getBaseUrl(), ws_url: '', mode: 'server' });
    this.setLabel(executionId, pipelineName);
    // A re-run switches the view to the new execution: keep the tab title in step.
    this.model.on('change:execution_id', () => this.setLabel(String(this.model.get('execution_id')), pipelineName));
  }

  private setLabel(executionId: string, pipelineName: string): void {
    this.title.label = `AnsFlow · ${pipelineName || executionId.slice(0, 8)}`;
    this.title.caption = `Execution ${executionId}`;
  }

  protected onAfterAttach(): void {
    if (!this.cleanup) {
      this.cleanup = mountExecutionView(this.node, this.model, { layoutKey: 'panel' });
    }
  }

  dispose(): void {
    this.cleanup?.();
    this.cleanup = null;
    super.dispose();
  }
}
