/**
 * The executed notebook of a notebook step, opened read-only in a JupyterLab tab.
 *
 * The views ask for it with a bubbling DOM event (OPEN_NOTEBOOK_EVENT), so the widget
 * bundle needs no JupyterLab import and falls back to a download where no extension
 * answers. The notebook is fetched through the artifacts REST API and drawn with
 * JupyterLab's rendermime, untrusted (HTML sanitized, no JavaScript outputs run). There is
 * no document context behind the tab: nothing can be saved, and no kernel starts.
 */
import { type JupyterFrontEnd, LabShell } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { type IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { notebookIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import { CAN_OPEN_NOTEBOOK_EVENT, OPEN_NOTEBOOK_EVENT, type OpenNotebookDetail } from '../widget/preview';
import { artifactUrl, fenced, type Json, outputBundle, text } from './nbformat';

function div(cls: string, content = ''): HTMLDivElement {
  const node = document.createElement('div');
  node.className = cls;
  if (content) node.textContent = content;
  return node;
}

/** The notebook drawn cell by cell; read-only by construction (there is no model to edit). */
export class ReadOnlyNotebook extends Widget {
  constructor(
    private readonly rendermime: IRenderMimeRegistry,
    readonly detail: OpenNotebookDetail
  ) {
    super();
    this.addClass('ansflow-notebook');
    this.addClass('jp-RenderedHTMLCommon');
    Object.assign(this.node.style, { overflow: 'auto', padding: '8px 16px', background: 'var(--jp-layout-color0)' });
    const name = detail.path.split('/').pop() || detail.path;
    this.id = `ansflow-notebook-${detail.executionId}-${detail.stepId}-${detail.path}`.replace(/[^\w-]/g, '_');
    this.title.label = `${name} (read-only)`;
    this.title.caption = `Executed notebook of step ${detail.stepId}, run ${detail.executionId} (read-only)`;
    this.title.icon = notebookIcon;
    this.title.closable = true;
    const banner = div(
      'af-nbbanner',
      `Read-only: the executed notebook of step ${detail.stepId} in run ${detail.executionId.slice(0, 8)}, with the outputs it saved.`
    );
    Object.assign(banner.style, {
      padding: '6px 8px',
      margin: '0 0 8px',
      background: 'var(--jp-layout-color2)',
      color: 'var(--jp-ui-font-color1)'
    });
    this.node.append(banner, div('af-nbcells', 'Loading…'));
  }

  /** Fetch the notebook (with the page's credentials) and draw it. */
  async load(url: string, settings: ServerConnection.ISettings): Promise<void> {
    const cells = this.node.querySelector('.af-nbcells') as HTMLElement;
    try {
      const response = await ServerConnection.makeRequest(url, {}, settings);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      await this.draw(cells, (await response.json()) as Json);
    } catch (err) {
      cells.textContent = `Could not open ${this.detail.path}: ${String(err)}`;
    }
  }

  private async draw(into: HTMLElement, notebook: Json): Promise<void> {
    const meta = (notebook.metadata ?? {}) as Json;
    // language_info.name is the highlighter's name (`python`); a kernelspec's name is not.
    const language = text((meta.language_info as Json | undefined)?.name) || text((meta.kernelspec as Json | undefined)?.language);
    const cells = Array.isArray(notebook.cells) ? (notebook.cells as Json[]) : [];
    into.replaceChildren();
    const pending: Promise<void>[] = [];
    for (const cell of cells) {
      const node = div(`af-nbcell af-nb-${String(cell.cell_type)}`);
      Object.assign(node.style, { display: 'grid', gridTemplateColumns: '64px 1fr', columnGap: '8px', margin: '6px 0' });
      const code = cell.cell_type === 'code';
      const count = code ? (typeof cell.execution_count === 'number' ? `[${cell.execution_count}]:` : '[ ]:') : '';
      const prompt = div('af-nbprompt', count);
      Object.assign(prompt.style, {
        color: 'var(--jp-cell-inprompt-font-color)',
        fontFamily: 'var(--jp-code-font-family)',
        textAlign: 'right'
      });
      const source = text(cell.source);
      const input = div('af-nbinput');
      if (cell.cell_type === 'markdown') pending.push(this.render(input, { 'text/markdown': source }));
      else if (code) {
        // Drawn like JupyterLab's input area: the editor's background and border.
        Object.assign(input.style, {
          background: 'var(--jp-cell-editor-background)',
          border: 'var(--jp-border-width) solid var(--jp-cell-editor-border-color)',
          padding: '0 6px'
        });
        const shown = this.render(input, { 'text/markdown': fenced(source, language) }).then(() => {
          for (const block of Array.from(input.querySelectorAll('pre'))) {
            Object.assign(block.style, { background: 'transparent', margin: '4px 0', padding: '0' });
          }
        });
        pending.push(shown);
      } else {
        const raw = document.createElement('pre');
        raw.textContent = source;
        input.append(raw);
      }
      node.append(prompt, input);
      for (const output of code && Array.isArray(cell.outputs) ? (cell.outputs as Json[]) : []) {
        const bundle = outputBundle(output);
        if (!bundle) continue;
        const out = div('af-nboutput');
        out.style.gridColumn = '2';
        node.append(out);
        pending.push(this.render(out, bundle));
      }
      into.append(node);
    }
    if (!cells.length) into.textContent = 'This notebook has no cells.';
    await Promise.all(pending);
  }

  private async render(into: HTMLElement, bundle: Json): Promise<void> {
    // Untrusted: what a pipeline wrote is shown the way JupyterLab shows an untrusted notebook.
    const mime = this.rendermime.preferredMimeType(bundle as never, 'ensure');
    if (!mime) return;
    const renderer = this.rendermime.createRenderer(mime);
    await renderer.renderModel(new MimeModel({ data: bundle as never, trusted: false }));
    Widget.attach(renderer, into);
  }
}

/** Open notebooks the views ask for (JupyterLab only); returns a function that stops listening. */
export function listenForNotebooks(app: JupyterFrontEnd, rendermime: IRenderMimeRegistry): () => void {
  if (!(app.shell instanceof LabShell)) {
    // Notebook 7's notebook page shows one document: nothing answers, the view downloads.
    return () => undefined;
  }
  const settings = ServerConnection.makeSettings();
  const open = new Map<string, MainAreaWidget<ReadOnlyNotebook>>();
  const onEvent = (event: Event): void => {
    const detail = (event as CustomEvent<OpenNotebookDetail>).detail;
    const url = detail && typeof detail.url === 'string' ? artifactUrl(detail.url, settings.baseUrl) : '';
    if (!url) return; // not ours to open: the view downloads instead
    event.preventDefault();
    const existing = open.get(url);
    if (existing && !existing.isDisposed) {
      app.shell.activateById(existing.id);
      return;
    }
    const content = new ReadOnlyNotebook(rendermime, { ...detail, executionId: String(detail.executionId ?? '') });
    const widget = new MainAreaWidget({ content });
    widget.id = content.id;
    widget.title.label = content.title.label;
    widget.title.caption = content.title.caption;
    widget.title.icon = notebookIcon;
    widget.title.closable = true;
    open.set(url, widget);
    widget.disposed.connect(() => open.delete(url));
    app.shell.add(widget, 'main');
    app.shell.activateById(widget.id);
    void content.load(url, settings);
  };
  const onProbe = (event: Event): void => event.preventDefault();
  document.addEventListener(OPEN_NOTEBOOK_EVENT, onEvent);
  document.addEventListener(CAN_OPEN_NOTEBOOK_EVENT, onProbe);
  return () => {
    document.removeEventListener(OPEN_NOTEBOOK_EVENT, onEvent);
    document.removeEventListener(CAN_OPEN_NOTEBOOK_EVENT, onProbe);
  };
}
