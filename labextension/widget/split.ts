/**
 * The drag handle between the graph (or timeline) and the log: drag it, or focus it and
 * use the arrow keys, Page Up/Down, Home and End; a double click gives the automatic size
 * back. The height is remembered per kind of view (notebook output, JupyterLab panel).
 */

const MIN = 80;
const MAX = 1200;
const STEP = 16;
const PAGE = 96;

export class Splitter {
  readonly node = document.createElement('div');
  private height: number | null = null;

  constructor(
    /** The pane above the handle. */
    private readonly top: HTMLElement,
    /** localStorage key ('' = not remembered). */
    private readonly key: string
  ) {
    const n = this.node;
    n.className = 'af-split';
    n.tabIndex = 0;
    n.setAttribute('role', 'separator');
    n.setAttribute('aria-orientation', 'horizontal');
    n.setAttribute('aria-label', 'Resize the graph and the log');
    n.setAttribute('aria-valuemin', String(MIN));
    n.setAttribute('aria-valuemax', String(MAX));
    n.title = 'Drag to resize (arrow keys too); double-click for the automatic size';
    n.addEventListener('pointerdown', ev => this.onDown(ev));
    n.addEventListener('keydown', ev => this.onKey(ev));
    n.addEventListener('dblclick', () => this.set(null, true));
    this.set(this.load(), false);
  }

  /** The chosen height in px, or null for the automatic size. */
  get value(): number | null {
    return this.height;
  }

  set(height: number | null, save: boolean): void {
    this.height = height === null ? null : Math.round(Math.min(MAX, Math.max(MIN, height)));
    const s = this.top.style;
    if (this.height === null) {
      s.removeProperty('height');
      s.removeProperty('max-height');
      this.top.classList.remove('af-sized');
      this.node.removeAttribute('aria-valuenow');
    } else {
      s.height = s.maxHeight = `${this.height}px`;
      this.top.classList.add('af-sized');
      this.node.setAttribute('aria-valuenow', String(this.height));
    }
    if (save && this.key) {
      try {
        const store = this.storage();
        if (this.height === null) store?.removeItem(this.key);
        else store?.setItem(this.key, String(this.height));
      } catch {
        // Storage can be off (private windows, sandboxed outputs): the size lasts this view.
      }
    }
  }

  private load(): number | null {
    try {
      const raw = this.key ? (this.storage()?.getItem(this.key) ?? null) : null;
      const v = raw === null ? Number.NaN : Number(raw);
      return Number.isFinite(v) ? v : null;
    } catch {
      return null;
    }
  }

  private storage(): Storage | null {
    return this.node.ownerDocument.defaultView?.localStorage ?? null;
  }

  private current(): number {
    return this.height ?? this.top.getBoundingClientRect().height;
  }

  private onDown(ev: PointerEvent): void {
    if (ev.button !== 0) return;
    ev.preventDefault();
    const start = ev.clientY;
    const from = this.current();
    this.node.classList.add('af-dragging');
    this.node.setPointerCapture?.(ev.pointerId);
    const move = (e: PointerEvent): void => this.set(from + e.clientY - start, false);
    const up = (e: PointerEvent): void => {
      this.node.removeEventListener('pointermove', move);
      this.node.removeEventListener('pointerup', up);
      this.node.removeEventListener('pointercancel', up);
      this.node.classList.remove('af-dragging');
      this.node.releasePointerCapture?.(e.pointerId);
      this.set(this.height, true);
    };
    this.node.addEventListener('pointermove', move);
    this.node.addEventListener('pointerup', up);
    this.node.addEventListener('pointercancel', up);
  }

  private onKey(ev: KeyboardEvent): void {
    const moves: Record<string, number> = { ArrowUp: -STEP, ArrowDown: STEP, PageUp: -PAGE, PageDown: PAGE };
    if (moves[ev.key] !== undefined) this.set(this.current() + moves[ev.key], true);
    else if (ev.key === 'Home') this.set(MIN, true);
    else if (ev.key === 'End') this.set(MAX, true);
    else return;
    ev.preventDefault();
  }
}
