/**
 * Annotations (`::error::`, `::warning::`, `::notice::`) above the log: count badges and a
 * list of the messages, each a button that opens its step at its log line.
 */
import { escapeHtml } from './ansi';
import type { Annotation } from './types';

export const LEVELS = ['error', 'warning', 'notice'] as const;
const ICON: Record<string, string> = { error: '✕', warning: '⚠', notice: 'ℹ' };
const WORD: Record<string, [string, string]> = {
  error: ['error', 'errors'],
  warning: ['warning', 'warnings'],
  notice: ['notice', 'notices']
};
/** Past this many the list scrolls; the counts stay exact. */
const SHOWN = 200;

/** Annotations per level, in level order. */
export function countLevels(notes: readonly Annotation[]): Record<string, number> {
  const counts: Record<string, number> = { error: 0, warning: 0, notice: 0 };
  for (const note of notes) counts[note.level] = (counts[note.level] ?? 0) + 1;
  return counts;
}

/** Each step's annotations, in arrival order. */
export function notesByStep(notes: readonly Annotation[]): Map<string, Annotation[]> {
  const byStep = new Map<string, Annotation[]>();
  for (const note of notes) {
    const list = byStep.get(note.step_id);
    if (list) list.push(note);
    else byStep.set(note.step_id, [note]);
  }
  return byStep;
}

/** "2 errors, 1 warning" (empty when there is none): for accessible names and titles. */
export function countWords(notes: readonly Annotation[]): string {
  const counts = countLevels(notes);
  return LEVELS.filter(l => counts[l] > 0)
    .map(l => `${counts[l]} ${WORD[l][counts[l] === 1 ? 0 : 1]}`)
    .join(', ');
}

/** "✕ 2 ⚠ 1" for a graph node: errors and warnings only (notices are not a problem). */
export function countMarks(notes: readonly Annotation[]): string {
  const counts = countLevels(notes);
  return (['error', 'warning'] as const)
    .filter(l => counts[l] > 0)
    .map(l => `${ICON[l]} ${counts[l]}`)
    .join(' ');
}

/** "2 errors · 1 warning" as small coloured badges (empty when there is none). */
export function badgesHtml(notes: readonly Annotation[]): string {
  const counts = countLevels(notes);
  return LEVELS.filter(l => counts[l] > 0)
    .map(l => {
      const words = `${counts[l]} ${WORD[l][counts[l] === 1 ? 0 : 1]}`;
      return `<span class="af-abadge af-a-${l}" title="${words}" aria-label="${words}">${ICON[l]} ${counts[l]}</span>`;
    })
    .join('');
}

/** The list shown above the log of one step (or of every step). */
export class AnnotationList {
  readonly node = document.createElement('div');
  private key = '';

  constructor(onGo: (stepId: string, offset: number) => void) {
    this.node.className = 'af-annotations af-hidden';
    this.node.onclick = ev => {
      const item = (ev.target as Element).closest('[data-offset]');
      if (item) onGo(item.getAttribute('data-astep') ?? '', Number(item.getAttribute('data-offset')));
    };
  }

  /** Draw the annotations of `stepId` (null: of every step, labelled by step). */
  render(all: readonly Annotation[], stepId: string | null, label: (stepId: string) => string): void {
    const notes = stepId === null ? all : all.filter(a => a.step_id === stepId);
    const key = `${stepId}|${notes.length}|${all.length}|${notes[0]?.message}|${notes[notes.length - 1]?.offset}`;
    if (key === this.key) return;
    this.key = key;
    this.node.classList.toggle('af-hidden', notes.length === 0);
    if (notes.length === 0) {
      this.node.replaceChildren();
      return;
    }
    // Errors first, then warnings and notices, each in log order.
    const order = [...notes].sort((a, b) => LEVELS.indexOf(a.level as never) - LEVELS.indexOf(b.level as never));
    let html = `<div class="af-acounts">${badgesHtml(notes)}</div><ul class="af-alist">`;
    for (const note of order.slice(0, SHOWN)) {
      const where = note.file ? `${note.file}${note.line ? `:${note.line}` : ''}` : '';
      const step = stepId === null ? `<span class="af-astep">${escapeHtml(label(note.step_id))}</span>` : '';
      const level = LEVELS.includes(note.level as never) ? note.level : 'notice';
      html +=
        `<li><button class="af-aitem af-a-${level}" data-astep="${escapeHtml(note.step_id)}" data-offset="${Number(note.offset) || 0}" title="Show line ${(Number(note.offset) || 0) + 1} of ${escapeHtml(note.step_id)}">` +
        `<span class="af-aicon">${ICON[level]}</span>${step}<span class="af-amsg">${escapeHtml(note.message)}</span>` +
        `${where ? `<span class="af-awhere">${escapeHtml(where)}</span>` : ''}</button></li>`;
    }
    if (order.length > SHOWN) html += `<li class="af-amore">and ${order.length - SHOWN} more</li>`;
    this.node.innerHTML = `${html}</ul>`;
  }
}

/** Annotation levels by step and line, rebuilt only when annotations were added. */
export class AnnotationIndex {
  private count = -1;
  private first: Annotation | undefined;
  private readonly byLine = new Map<string, string>();

  constructor(private readonly notes: () => readonly Annotation[]) {}

  /** The level of the first annotation on a step's line (errors win over the rest). */
  at(stepId: string, offset: number): string | undefined {
    const notes = this.notes();
    if (notes.length !== this.count || notes[0] !== this.first) {
      this.count = notes.length;
      this.first = notes[0];
      this.byLine.clear();
      for (const note of notes) {
        const key = `${note.step_id}\u0000${note.offset}`;
        const had = this.byLine.get(key);
        if (!had || (note.level === 'error' && had !== 'error'))
          this.byLine.set(key, LEVELS.includes(note.level as never) ? note.level : 'notice');
      }
    }
    return this.byLine.get(`${stepId}\u0000${offset}`);
  }
}
