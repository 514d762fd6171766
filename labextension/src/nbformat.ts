/** Pure helpers of the read-only notebook view (no JupyterLab imports: unit-tested in node). */

export type Json = Record<string, unknown>;

/** A notebook string field (a string or a list of lines) as one string. */
export const text = (v: unknown): string => (Array.isArray(v) ? v.map(String).join('') : typeof v === 'string' ? v : '');

/** The artifact URL resolved against the server, or '' when it is not an AnsFlow API URL. */
export function artifactUrl(url: string, baseUrl: string): string {
  try {
    const absolute = new URL(url, baseUrl).href;
    return absolute.startsWith(`${new URL('ansflow/api/executions/', baseUrl).href}`) ? absolute : '';
  } catch {
    return '';
  }
}

/** A code cell's source as a fenced block, so rendermime's Markdown highlights it. */
export function fenced(source: string, language: string): string {
  const longest = Math.max(0, ...(source.match(/`+/g) ?? []).map(run => run.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${language}\n${source}\n${fence}`;
}

/** One output as a mime bundle (streams and errors as JupyterLab's stdout/stderr types). */
export function outputBundle(output: Json): Json | null {
  switch (output.output_type) {
    case 'stream':
      return { [output.name === 'stderr' ? 'application/vnd.jupyter.stderr' : 'application/vnd.jupyter.stdout']: text(output.text) };
    case 'error': {
      const lines = Array.isArray(output.traceback) ? output.traceback.map(String) : [];
      return { 'application/vnd.jupyter.stderr': lines.length ? lines.join('\n') : `${text(output.ename)}: ${text(output.evalue)}` };
    }
    case 'display_data':
    case 'execute_result': {
      const data = output.data && typeof output.data === 'object' ? (output.data as Json) : {};
      const bundle: Json = {};
      for (const [mime, value] of Object.entries(data))
        bundle[mime] = typeof value === 'string' || Array.isArray(value) ? text(value) : value;
      return bundle;
    }
    default:
      return null;
  }
}
