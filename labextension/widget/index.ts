/** anywidget entry point (bundled by esbuild into ansflow_jupyter/static/widget.js). */
import { mountExecutionView, type ModelLike } from './view';

export { mountExecutionView };

export default {
  render({ model, el }: { model: ModelLike; el: HTMLElement }): () => void {
    return mountExecutionView(el, model);
  }
};
