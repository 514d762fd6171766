/**
 * The view's CSS, injected once per document from JS so the same bundle works in
 * anywidget (no separate .css to ship) and in the JupyterLab panel. Only JupyterLab
 * variables (with fallbacks for other front-ends) so light and dark themes both work.
 */

const CSS = `
.ansflow-widget {
  --af-success: var(--jp-success-color1, #388e3c);
  --af-error: var(--jp-error-color1, #d32f2f);
  --af-warn: var(--jp-warn-color1, #f57c00);
  --af-brand: var(--jp-brand-color1, #1976d2);
  --af-fg: var(--jp-ui-font-color1, rgba(0,0,0,.87));
  --af-fg2: var(--jp-ui-font-color2, rgba(0,0,0,.54));
  --af-fg3: var(--jp-ui-font-color3, rgba(0,0,0,.38));
  --af-bg: var(--jp-layout-color1, #fff);
  --af-bg2: var(--jp-layout-color2, #eee);
  --af-bg3: var(--jp-layout-color3, #bdbdbd);
  --af-border: var(--jp-border-color2, #e0e0e0);
  --af-border1: var(--jp-border-color1, #bdbdbd);
  --af-code-bg: var(--jp-cell-editor-background, var(--af-bg2));
  --af-row-h: 18px;
  --af-a0:#3e424d; --af-a1:#c23621; --af-a2:#25a732; --af-a3:#a47b00; --af-a4:#2d5fd0; --af-a5:#a637b4; --af-a6:#11889b; --af-a7:#868686;
  --af-a8:#6b6f78; --af-a9:#e14d3a; --af-a10:#2dbe3c; --af-a11:#c99a00; --af-a12:#4a78e8; --af-a13:#c552d3; --af-a14:#1aa6bb; --af-a15:#b0b0b0;
  font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px);
  color: var(--af-fg);
  background: var(--af-bg);
  border: 1px solid var(--af-border);
  border-radius: 6px;
  overflow: hidden;
  box-sizing: border-box;
  min-width: 0;
}
body[data-jp-theme-light='false'] .ansflow-widget, body.vscode-dark .ansflow-widget, .ansflow-widget.af-dark {
  --af-a0:#6e7681; --af-a1:#ff7b72; --af-a2:#56d364; --af-a3:#e3b341; --af-a4:#79c0ff; --af-a5:#d2a8ff; --af-a6:#56d4dd; --af-a7:#c9d1d9;
  --af-a8:#8b949e; --af-a9:#ffa198; --af-a10:#7ee787; --af-a11:#f2cc60; --af-a12:#a5d6ff; --af-a13:#e2c5ff; --af-a14:#87deea; --af-a15:#f0f6fc;
}
.ansflow-widget *, .ansflow-widget *::before, .ansflow-widget *::after { box-sizing: border-box; }
.ansflow-widget button {
  font: inherit; color: var(--af-fg); background: var(--af-bg); border: 1px solid var(--af-border1);
  border-radius: 4px; padding: 2px 9px; height: 24px; cursor: pointer; white-space: nowrap;
}
.ansflow-widget button:hover:not(:disabled) { background: var(--af-bg2); }
.ansflow-widget button:disabled { opacity: .45; cursor: default; }
.ansflow-widget button.af-danger:not(:disabled) { color: var(--af-error); border-color: var(--af-error); }
.ansflow-widget input, .ansflow-widget select {
  font: inherit; color: var(--af-fg); background: var(--af-bg); border: 1px solid var(--af-border1);
  border-radius: 4px; height: 24px; padding: 0 6px; min-width: 0;
}
.af-header { display: flex; align-items: center; gap: 12px; padding: 8px 12px; border-bottom: 1px solid var(--af-border); background: var(--af-bg2); flex-wrap: wrap; }
.af-title { display: flex; align-items: center; gap: 8px; min-width: 0; flex: 1 1 220px; }
.af-name { font-weight: 600; font-size: var(--jp-ui-font-size2, 14px); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.af-id { color: var(--af-fg3); font-family: var(--jp-code-font-family, monospace); font-size: 11px; white-space: nowrap; }
.af-badge { display: inline-flex; align-items: center; gap: 4px; padding: 1px 8px; border-radius: 10px; font-size: 11px; font-weight: 600;
  text-transform: uppercase; letter-spacing: .04em; color: #fff; background: var(--af-fg3); white-space: nowrap; }
.af-badge.af-s-running { background: var(--af-brand); }
.af-badge.af-s-success { background: var(--af-success); }
.af-badge.af-s-failed { background: var(--af-error); }
.af-badge.af-s-cancelled, .af-badge.af-s-interrupted { background: var(--af-warn); }
.af-elapsed { font-variant-numeric: tabular-nums; color: var(--af-fg2); white-space: nowrap; }
.af-progress { display: flex; align-items: center; gap: 8px; flex: 0 1 220px; min-width: 140px; }
.af-track { flex: 1; height: 6px; border-radius: 3px; background: var(--af-bg3); overflow: hidden; display: flex; }
.af-track > div { height: 100%; transition: width .3s; }
.af-fill-ok { background: var(--af-success); }
.af-fill-bad { background: var(--af-error); }
.af-count { color: var(--af-fg2); font-variant-numeric: tabular-nums; white-space: nowrap; font-size: 12px; }
.af-conn { display: flex; align-items: center; gap: 5px; color: var(--af-fg2); font-size: 12px; white-space: nowrap; }
.af-dot { width: 8px; height: 8px; border-radius: 50%; background: var(--af-fg3); }
.af-conn.af-c-live .af-dot { background: var(--af-success); box-shadow: 0 0 0 3px color-mix(in srgb, var(--af-success) 25%, transparent); }
.af-conn.af-c-reconnecting .af-dot, .af-conn.af-c-connecting .af-dot { background: var(--af-warn); animation: af-pulse 1s infinite; }
.af-conn.af-c-closed .af-dot { background: var(--af-fg3); }
.af-conn.af-c-error .af-dot { background: var(--af-error); }
.af-conn.af-c-embedded .af-dot { background: var(--af-brand); }
.af-actions { display: flex; gap: 6px; }
.af-message { padding: 6px 12px; border-bottom: 1px solid var(--af-border); color: var(--af-fg2); font-size: 12px; }
.af-message.af-bad { color: var(--af-error); }
.af-message:empty { display: none; }
.af-body { display: flex; flex-direction: column; min-height: 0; }
.af-left { min-width: 0; display: flex; flex-direction: column; border-bottom: 1px solid var(--af-border); max-height: var(--af-top-h, 300px); }
.af-right { min-width: 0; display: flex; flex-direction: column; height: var(--af-log-h, 340px); }
.af-tabs { display: flex; gap: 2px; padding: 6px 10px 0; border-bottom: 1px solid var(--af-border); }
.af-tabs button { border: none; border-bottom: 2px solid transparent; border-radius: 0; background: none; color: var(--af-fg2); padding: 2px 10px 6px; height: auto; }
.af-tabs button:hover:not(:disabled) { background: none; color: var(--af-fg); }
.af-tabs button.af-on { color: var(--af-fg); border-bottom-color: var(--af-brand); font-weight: 600; }
.af-pane { flex: 1 1 auto; overflow: auto; min-height: 0; }
.af-pane.af-timeline { padding: 4px 0; }
.af-graph svg { display: block; }
.af-node { cursor: pointer; }
.af-node rect.af-box { fill: var(--af-bg); stroke: var(--af-border1); stroke-width: 1.2; }
.af-node:hover rect.af-box { fill: var(--af-bg2); }
.af-node.af-sel rect.af-box { stroke: var(--af-brand); stroke-width: 2.4; }
.af-node text { fill: var(--af-fg); font-size: 12px; font-family: var(--jp-ui-font-family, sans-serif); }
.af-node text.af-sub { fill: var(--af-fg2); font-size: 11px; font-variant-numeric: tabular-nums; }
.af-node rect.af-stripe { fill: var(--af-fg3); }
.af-s-running > rect.af-stripe, .af-s-running > circle { fill: var(--af-brand); }
.af-s-success > rect.af-stripe, .af-s-success > circle { fill: var(--af-success); }
.af-s-failed > rect.af-stripe, .af-s-failed > circle { fill: var(--af-error); }
.af-s-cancelled > rect.af-stripe, .af-s-cancelled > circle { fill: var(--af-warn); }
.af-s-skipped > rect.af-stripe, .af-s-skipped > circle, .af-s-pending > circle { fill: var(--af-bg3); }
.af-node.af-s-running rect.af-box { stroke: var(--af-brand); animation: af-glow 1.4s ease-in-out infinite; }
.af-node.af-s-failed rect.af-box { stroke: var(--af-error); }
.af-node text.af-icon { fill: #fff; font-size: 10px; font-weight: 700; }
.af-s-pending text.af-icon, .af-s-skipped text.af-icon { fill: var(--af-fg2); }
.af-edge { fill: none; stroke: var(--af-border1); stroke-width: 1.4; }
.af-edge.af-done { stroke: var(--af-fg3); }
@keyframes af-glow { 50% { stroke-opacity: .35; } }
@keyframes af-pulse { 50% { opacity: .3; } }
@keyframes af-spin { to { transform: rotate(360deg); } }
.af-spin { display: inline-block; animation: af-spin 1s linear infinite; }
.af-steps { width: 100%; border-collapse: collapse; font-size: 12px; }
.af-steps td { padding: 3px 6px; border-bottom: 1px solid var(--af-border); white-space: nowrap; }
.af-steps tbody tr { cursor: pointer; }
.af-steps th { position: sticky; top: 0; z-index: 1; background: var(--af-bg); padding: 2px 6px 4px; font-weight: 600; font-size: 11px; color: var(--af-fg3); text-align: left; border-bottom: 1px solid var(--af-border); white-space: nowrap; }
.af-steps th.af-num { text-align: right; }
.af-steps th.af-axis { padding-right: 12px; }
.af-steps th.af-axis span:last-child { float: right; }
.af-steps tbody tr:hover td { background: var(--af-bg2); }
.af-steps tr.af-sel td { background: color-mix(in srgb, var(--af-brand) 12%, transparent); }
.af-steps td.af-icocell { width: 28px; padding-left: 12px; }
.af-steps td.af-sname { max-width: 260px; overflow: hidden; text-overflow: ellipsis; }
.af-steps td.af-num, .af-steps td.af-why { width: 1%; }
.af-steps td.af-num { text-align: right; font-variant-numeric: tabular-nums; color: var(--af-fg2); }
.af-steps td.af-why { color: var(--af-fg2); }
.af-steps td.af-gantt { width: 45%; min-width: 90px; padding-right: 12px; }
.af-ico { display: inline-block; width: 16px; text-align: center; font-weight: 700; }
.af-ico.af-s-running { color: var(--af-brand); }
.af-ico.af-s-success { color: var(--af-success); }
.af-ico.af-s-failed { color: var(--af-error); }
.af-ico.af-s-cancelled { color: var(--af-warn); }
.af-ico.af-s-pending, .af-ico.af-s-skipped { color: var(--af-fg3); }
.af-gtrack { position: relative; height: 10px; border-radius: 2px; background: var(--af-bg2); }
.af-gbar { position: absolute; top: 0; height: 10px; border-radius: 2px; min-width: 2px; background: var(--af-fg3); }
.af-gbar.af-s-running { background: var(--af-brand); animation: af-pulse 1.4s infinite; }
.af-gbar.af-s-success { background: var(--af-success); }
.af-gbar.af-s-failed { background: var(--af-error); }
.af-gbar.af-s-cancelled { background: var(--af-warn); }
.af-logbar { display: flex; align-items: center; gap: 6px; padding: 6px 10px; border-bottom: 1px solid var(--af-border); flex-wrap: wrap; background: var(--af-bg); }
.af-logbar button.af-nav { padding: 0 7px; }
.af-logbar select { max-width: 220px; }
.af-logbar input[type=search] { width: 200px; flex: 0 1 200px; }
.af-logbar .af-mcount { color: var(--af-fg2); font-size: 12px; font-variant-numeric: tabular-nums; }
.af-logbar .af-mcount:empty { display: none; }
.af-logbar label { display: flex; align-items: center; gap: 4px; color: var(--af-fg2); font-size: 12px; white-space: nowrap; }
.af-logbar .af-spacer-flex { flex: 1; }
.af-logbar a { color: var(--af-brand); font-size: 12px; text-decoration: none; white-space: nowrap; }
.af-logbar a:hover { text-decoration: underline; }
.af-logwrap { position: relative; flex: 1; min-height: 0; }
.af-logview { position: absolute; inset: 0; overflow: auto; background: var(--af-code-bg); font-family: var(--jp-code-font-family, monospace);
  font-size: var(--jp-code-font-size, 12px); overflow-anchor: none; }
.af-scroll-spacer { position: relative; min-width: 100%; width: max-content; }
.af-rows { position: absolute; left: 0; top: 0; min-width: 100%; will-change: transform; }
.af-row { height: var(--af-row-h); line-height: var(--af-row-h); white-space: pre; padding: 0 12px 0 10px; color: var(--jp-content-font-color1, var(--af-fg)); }
.af-row.af-cur { background: color-mix(in srgb, var(--af-warn) 14%, transparent); }
.af-row.af-info { color: var(--af-fg3); font-style: italic; }
.af-ln { display: inline-block; width: var(--af-ln-w, 6ch); margin-left: -4px; padding-right: 1ch; text-align: right; color: var(--af-fg3); user-select: none; }
.af-ts { color: var(--af-fg3); padding-right: 1ch; user-select: none; }
.af-tag { display: inline-block; width: 14ch; overflow: hidden; text-overflow: ellipsis; vertical-align: top; color: var(--af-fg2); padding-right: 1ch; user-select: none; }
.af-empty { color: var(--af-fg3); padding: 16px; font-family: var(--jp-ui-font-family, sans-serif); }
.af-follow { position: absolute; right: 18px; bottom: 14px; display: none; box-shadow: 0 1px 4px rgba(0,0,0,.25); }
.af-follow.af-show { display: block; }
mark.af-match { background: color-mix(in srgb, var(--af-warn) 45%, transparent); color: inherit; border-radius: 2px; }
mark.af-match.af-current { background: var(--af-warn); color: #000; }
.af-bold { font-weight: 700; } .af-dim { opacity: .65; } .af-italic { font-style: italic; } .af-underline { text-decoration: underline; }
${Array.from({ length: 16 }, (_, i) => `.af-fg${i}{color:var(--af-a${i})}.af-bg${i}{background-color:var(--af-a${i})}`).join('')}
.ansflow-panel { padding: 8px; overflow: auto; height: 100%; box-sizing: border-box; font-family: var(--jp-ui-font-family); font-size: var(--jp-ui-font-size1); color: var(--jp-ui-font-color1); background: var(--jp-layout-color1); }
.ansflow-panel h3 { font-size: var(--jp-ui-font-size1); text-transform: uppercase; letter-spacing: .05em; color: var(--jp-ui-font-color2); margin: 12px 0 6px; display: flex; align-items: center; justify-content: space-between; }
.ansflow-panel table { width: 100%; border-collapse: collapse; }
.ansflow-panel td { padding: 4px; border-bottom: 1px solid var(--jp-border-color2); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.ansflow-panel td.af-grow { max-width: 0; width: 100%; }
.ansflow-panel h3 .af-muted { text-transform: none; letter-spacing: 0; font-weight: normal; }
.ansflow-panel tr.af-click { cursor: pointer; }
.ansflow-panel tr.af-click:hover td { background: var(--jp-layout-color2); }
.ansflow-panel button { font: inherit; color: var(--jp-ui-font-color1); background: var(--jp-layout-color1); border: 1px solid var(--jp-border-color1); border-radius: 4px; padding: 1px 8px; cursor: pointer; }
.ansflow-panel .af-muted { color: var(--jp-ui-font-color2); }
.ansflow-panel .af-err { color: var(--jp-error-color1); }
.ansflow-main { overflow: auto; padding: 8px; box-sizing: border-box; background: var(--jp-layout-color0); }
/* In a main-area tab the view fills the tab; the log panel takes the remaining height. */
.ansflow-main .ansflow-widget { --af-top-h: 40%; height: 100%; min-height: 420px; display: flex; flex-direction: column; }
.ansflow-main .af-body { flex: 1 1 auto; min-height: 0; }
.ansflow-main .af-right { flex: 1 1 auto; height: auto; min-height: 200px; }
`;

export function injectStyle(doc: Document = document): void {
  if (doc.getElementById('ansflow-widget-style')) {
    return;
  }
  const style = doc.createElement('style');
  style.id = 'ansflow-widget-style';
  style.textContent = CSS;
  doc.head.appendChild(style);
}
