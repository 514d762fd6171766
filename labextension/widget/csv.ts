/**
 * RFC 4180 CSV parsing for the artifact preview: quoted fields may hold commas, quotes
 * (`""`) and newlines; CRLF, LF and CR end records. One pass, keeping only the first rows.
 */

export interface CsvTable {
  /** The first `maxRows` records (the header included, as it is a record of the file). */
  rows: string[][];
  /** Records in the text (all of them, not only those kept). */
  count: number;
}

/**
 * Parse `text`. With `truncated` the text is a prefix of the file: its last record may be
 * cut, so it is dropped unless the prefix ends exactly after a record.
 */
export function parseCsv(text: string, maxRows = 1000, truncated = false): CsvTable {
  const rows: string[][] = [];
  let count = 0;
  let field = '';
  let record: string[] = [];
  let quoted = false;
  let touched = false; // the current record has content (so a final one without newline counts)
  const end = (): void => {
    record.push(field);
    if (count < maxRows) rows.push(record);
    count++;
    record = [];
    field = '';
    touched = false;
  };
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      touched = true;
    } else if (c === ',') {
      record.push(field);
      field = '';
      touched = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      end();
    } else {
      field += c;
      touched = true;
    }
  }
  // A file not ending in a newline still has its last record, unless that record was cut.
  if ((touched || field !== '' || record.length) && !truncated) end();
  return { rows, count };
}
