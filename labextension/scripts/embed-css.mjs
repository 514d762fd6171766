// Embeds widget/style.css as a string module, so one bundle works in anywidget (no
// separate .css to ship) and in the JupyterLab extension (whose webpack sees only lib/).
import { readFileSync, writeFileSync } from 'node:fs';

const css = readFileSync(new URL('../widget/style.css', import.meta.url), 'utf8');
const out = `// Generated from style.css by scripts/embed-css.mjs: edit the .css file.\nexport const CSS = ${JSON.stringify(css)};\n`;
const target = new URL('../widget/style.generated.ts', import.meta.url);
let old = '';
try {
  old = readFileSync(target, 'utf8');
} catch {}
if (old !== out) writeFileSync(target, out);
