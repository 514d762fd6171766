/**
 * A tiny Markdown renderer for step summaries that builds DOM nodes with textContent only:
 * user text is never parsed as HTML, so a summary cannot run script or load remote images.
 * Subset: ATX headings, paragraphs, `-`/`*`/`1.` lists, fenced and inline code, *em*,
 * **strong**, and [links](http(s) only). Anything else stays visible as text.
 */

const SAFE_HREF = /^https?:\/\//i;

/** Inline spans: `code`, **strong**, *em* / _em_, [text](url). */
function inline(doc: Document, text: string, into: Node): void {
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|\*([^*]+)\*|_([^_]+)_|\[([^\]]*)\]\(([^)\s]*)\)/g;
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index > last) into.appendChild(doc.createTextNode(text.slice(last, m.index)));
    last = m.index + m[0].length;
    let node: HTMLElement;
    if (m[1] !== undefined) {
      node = doc.createElement('code');
      node.textContent = m[1];
    } else if (m[2] !== undefined) {
      node = doc.createElement('strong');
      inline(doc, m[2], node);
    } else if (m[3] !== undefined || m[4] !== undefined) {
      node = doc.createElement('em');
      inline(doc, m[3] ?? m[4] ?? '', node);
    } else if (SAFE_HREF.test(m[6] ?? '')) {
      const a = doc.createElement('a');
      a.href = m[6] ?? '';
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.textContent = m[5] ?? '';
      node = a;
    } else {
      // Not http(s) (javascript:, data:, relative): the source stays as plain text.
      into.appendChild(doc.createTextNode(m[0]));
      continue;
    }
    into.appendChild(node);
  }
  if (last < text.length) into.appendChild(doc.createTextNode(text.slice(last)));
}

/** The Markdown as a DOM fragment of the safe subset (no HTML is ever interpreted). */
export function renderMarkdown(markdown: string, doc: Document = document): DocumentFragment {
  const out = doc.createDocumentFragment();
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  let para: string[] = [];
  let list: HTMLElement | null = null;
  const flush = (): void => {
    if (para.length) {
      const p = doc.createElement('p');
      inline(doc, para.join(' '), p);
      out.appendChild(p);
      para = [];
    }
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      flush();
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i].trimStart().startsWith(fence[1]); i++) body.push(lines[i]);
      const pre = doc.createElement('pre');
      const code = doc.createElement('code');
      code.textContent = body.join('\n');
      pre.appendChild(code);
      out.appendChild(pre);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      flush();
      const h = doc.createElement(`h${Math.min(6, heading[1].length + 2)}`); // h3..h6: inside a view
      inline(doc, heading[2], h);
      out.appendChild(h);
      continue;
    }
    const item = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/.exec(line);
    if (item) {
      const tag = item[1] ? 'ul' : 'ol';
      if (para.length || !list || list.tagName.toLowerCase() !== tag) {
        flush();
        list = doc.createElement(tag);
        out.appendChild(list);
      }
      const li = doc.createElement('li');
      inline(doc, item[3], li);
      (list as HTMLElement).appendChild(li);
      continue;
    }
    if (!line.trim()) {
      flush();
      continue;
    }
    list = null;
    para.push(line.trim());
  }
  flush();
  return out;
}
