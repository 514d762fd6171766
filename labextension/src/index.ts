/**
 * JupyterLab plugin: the AnsFlow sidebar, the execution panels and their commands, and the
 * renderer that shows a saved server-mode `%ansflow run` output live again.
 */
import { IRouter, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { LabIcon } from '@jupyterlab/ui-components';
import { parsePermalink } from '../widget/permalink';
import { ExecutionPanel } from './executionpanel';
import { listenForNotebooks } from './notebookview';
import { executionRendererFactory } from './renderer';
import { AnsFlowSidebar } from './sidebar';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
  '<g class="jp-icon3" fill="#616161"><circle cx="5" cy="6" r="2.6"/><circle cx="5" cy="18" r="2.6"/><circle cx="19" cy="12" r="2.6"/>' +
  '<path d="M7.4 6.6 16.7 11l-.6 1.2-9.3-4.4zM7.4 17.4l9.3-4.4.6 1.2-9.3 4.4z"/></g></svg>';

export const ansflowIcon = new LabIcon({ name: 'ansflow-jupyter:icon', svgstr: ICON_SVG });

export namespace CommandIDs {
  export const openMonitor = 'ansflow:open-monitor';
  export const openExecution = 'ansflow:open-execution';
  export const openLine = 'ansflow:open-line';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'ansflow-jupyter:plugin',
  description: 'Run AnsFlow pipelines and watch them live.',
  autoStart: true,
  optional: [ICommandPalette, IRenderMimeRegistry, IRouter],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null, rendermime: IRenderMimeRegistry | null, router: IRouter | null) => {
    // Notebooks clone this registry when they open, so every notebook gets the renderer.
    rendermime?.addFactory(executionRendererFactory, executionRendererFactory.defaultRank);
    // "Open notebook" in the views: the executed notebook read-only in a tab (else a download).
    if (rendermime) listenForNotebooks(app, rendermime);
    const settings = ServerConnection.makeSettings();
    const panels = new Map<string, MainAreaWidget<ExecutionPanel>>();

    const openExecution = (id: string, name: string): MainAreaWidget<ExecutionPanel> => {
      const existing = panels.get(id);
      if (existing && !existing.isDisposed) {
        app.shell.activateById(existing.id);
        return existing;
      }
      const content = new ExecutionPanel(id, name);
      const widget = new MainAreaWidget({ content });
      widget.id = content.id;
      widget.title.icon = ansflowIcon;
      widget.title.label = content.title.label;
      content.title.changed.connect(() => (widget.title.label = content.title.label));
      widget.title.closable = true;
      panels.set(id, widget);
      widget.disposed.connect(() => panels.delete(id));
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    };

    const sidebar = new AnsFlowSidebar(settings, openExecution);
    sidebar.title.icon = ansflowIcon;
    app.shell.add(sidebar, 'left', { rank: 700 });

    app.commands.addCommand(CommandIDs.openMonitor, {
      label: 'AnsFlow: Open monitor',
      caption: 'Show AnsFlow pipelines and live executions',
      execute: () => {
        if (!sidebar.isAttached) {
          app.shell.add(sidebar, 'left', { rank: 700 });
        }
        app.shell.activateById(sidebar.id);
      }
    });
    app.commands.addCommand(CommandIDs.openExecution, {
      label: 'AnsFlow: Open execution',
      execute: args => openExecution(String(args.id ?? ''), String(args.name ?? ''))
    });
    palette?.addItem({ command: CommandIDs.openMonitor, category: 'AnsFlow' });
    // Line permalinks (`lab?ansflow-execution=…&ansflow-step=…&ansflow-line=…`): the
    // router runs this once the page has loaded; the panel opens at that line.
    app.commands.addCommand(CommandIDs.openLine, {
      label: 'AnsFlow: Open a log line',
      execute: args => {
        const target = parsePermalink(String(args.search ?? ''));
        if (!target) {
          return;
        }
        const widget = openExecution(target.executionId, '');
        widget.content.model.set('focus', { step_id: target.stepId, offset: target.offset });
      }
    });
    router?.register({ command: CommandIDs.openLine, pattern: /[?&]ansflow-execution=/ });
  }
};

export default plugin;
