/**
 * Injects the view's CSS (style.css, embedded at build time) once per document, so the
 * same bundle works in anywidget and in the JupyterLab panel.
 */
import { CSS } from './style.generated';

export function injectStyle(doc: Document = document): void {
  if (doc.getElementById('ansflow-widget-style')) {
    return;
  }
  const style = doc.createElement('style');
  style.id = 'ansflow-widget-style';
  style.textContent = CSS;
  doc.head.appendChild(style);
}
