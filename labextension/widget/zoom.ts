/**
 * A pan and zoom viewport for the DAG. The content is moved with one CSS transform, so a
 * drag or a zoom never re-lays out or re-renders the graph (60 fps on 200 steps). Until
 * the user zooms or pans, the content fits the pane (not below MIN_FIT, where the text
 * stops being readable: the rest pans).
 */

const MIN_SCALE = 0.1;
const MAX_SCALE = 3;
/** Fitting to the width never goes below this: 12 px text stays ~7 px. */
export const MIN_FIT = 0.6;
/** Pixels a press moves before it counts as a drag (below: a click on a node). */
const DRAG_THRESHOLD = 4;
const KEY_PAN = 40;

export class ZoomView {
  readonly node = document.createElement('div');
  readonly canvas = document.createElement('div');
  scale = 1;
  tx = 0;
  ty = 0;
  /** The user zoomed or panned: content changes keep their view. */
  touched = false;
  private width = 0;
  private height = 0;
  private fitted = false;
  private suppressClick = false;
  private readonly pointers = new Map<number, [number, number]>();
  private drag: { x: number; y: number; tx: number; ty: number; moved: boolean } | null = null;
  private pinch: { dist: number; scale: number } | null = null;
  private readonly resize: ResizeObserver | null;
  private lastViewWidth = 0;
  private viewWidth = 0;
  private viewHeight = -1;
  private clientHeight = 0;
  private roomHeight = Number.POSITIVE_INFINITY;
  private frame = 0;
  private settle: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** Height the viewport may take at most (the graph's share of the split). */
    private readonly room: () => number,
    private readonly onChange: () => void = () => undefined
  ) {
    this.node.className = 'af-gview';
    this.node.tabIndex = 0;
    this.node.setAttribute('role', 'group');
    this.node.setAttribute('aria-label', 'Pipeline graph: drag or arrow keys to pan, Ctrl+wheel or + and - to zoom, 0 to fit');
    this.canvas.className = 'af-gcanvas';
    this.node.append(this.canvas);
    this.node.addEventListener('wheel', ev => this.onWheel(ev), { passive: false });
    this.node.addEventListener('pointerdown', ev => this.onDown(ev));
    this.node.addEventListener('pointermove', ev => this.onMove(ev));
    this.node.addEventListener('pointerup', ev => this.onUp(ev));
    this.node.addEventListener('pointercancel', ev => this.onUp(ev));
    // A drag that ends over a node must not select it.
    this.node.addEventListener(
      'click',
      ev => {
        if (this.suppressClick) {
          this.suppressClick = false;
          ev.stopPropagation();
          ev.preventDefault();
        }
      },
      true
    );
    this.node.addEventListener('keydown', ev => this.onKey(ev));
    // The browser scrolls even an overflow:hidden box to show a focused node: turn that
    // into a pan, or the offsets and what is drawn would disagree.
    this.node.addEventListener('scroll', () => {
      const { scrollLeft, scrollTop } = this.node;
      if (!scrollLeft && !scrollTop) return;
      this.node.scrollLeft = this.node.scrollTop = 0;
      this.panBy(-scrollLeft, -scrollTop);
    });
    // Keyboard focus on a node outside the view brings it in.
    this.node.addEventListener('focusin', ev => {
      if (ev.target !== this.node) this.reveal(ev.target as Element);
    });
    this.resize =
      typeof ResizeObserver === 'function'
        ? new ResizeObserver(() => {
            this.measure();
            const w = this.viewWidth;
            if (w === this.lastViewWidth && this.fitted) return;
            this.lastViewWidth = w;
            if (!this.touched || !this.fitted) this.autoFit(false);
            else this.apply();
          })
        : null;
    this.resize?.observe(this.node);
  }

  /** New content of this natural size (the markup is already in `canvas`). */
  setSize(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.roomHeight = this.room();
    if (!this.touched || !this.fitted) this.autoFit(false);
    else this.apply();
  }

  /**
   * The automatic size: the whole graph when it fits between MIN_FIT and 100 %, else
   * MIN_FIT (the rest pans), top left. `user`: the user asked for it, so it is kept.
   */
  autoFit(user = true): void {
    this.measure();
    const vw = this.viewWidth;
    const vh = this.roomHeight;
    this.fitted = vw > 0;
    const want = Math.min(vw / this.width, vh > 0 ? vh / this.height : Number.POSITIVE_INFINITY);
    this.scale = vw > 0 && this.width > 0 ? clamp(want, MIN_FIT, 1) : 1;
    this.tx = 0;
    this.ty = 0;
    if (user) this.touched = false;
    this.apply();
  }

  /** The whole graph in view, at most 100 %. */
  fit(): void {
    this.measure();
    const vw = this.viewWidth;
    const vh = this.roomHeight;
    if (vw <= 0 || this.width <= 0) return;
    this.scale = clamp(Math.min(vw / this.width, vh > 0 ? vh / this.height : Infinity, 1), MIN_SCALE, 1);
    this.tx = 0;
    this.ty = 0;
    this.touched = true;
    this.apply();
  }

  /** Zoom by `factor` keeping the point (cx, cy) of the viewport still (default: centre). */
  zoomBy(factor: number, cx?: number, cy?: number): void {
    const next = clamp(this.scale * factor, MIN_SCALE, MAX_SCALE);
    const x = cx ?? this.viewWidth / 2;
    const y = cy ?? this.clientHeight / 2;
    this.tx = x - ((x - this.tx) * next) / this.scale;
    this.ty = y - ((y - this.ty) * next) / this.scale;
    this.scale = next;
    this.touched = true;
    this.apply();
  }

  /** Move the content by (dx, dy); false when it is already at that edge. */
  panBy(dx: number, dy: number): boolean {
    const [tx, ty] = [this.tx, this.ty];
    this.tx += dx;
    this.ty += dy;
    this.apply();
    const moved = Math.abs(this.tx - tx) > 0.5 || Math.abs(this.ty - ty) > 0.5;
    if (moved) this.touched = true;
    return moved;
  }

  /** Pan so that `el` (inside the content) is in view. */
  reveal(el: Element): void {
    if (typeof el.getBoundingClientRect !== 'function') return;
    const box = el.getBoundingClientRect();
    const view = this.node.getBoundingClientRect();
    if (!box.width || !view.width) return;
    const dx = box.left < view.left ? view.left - box.left + 8 : box.right > view.right ? view.right - box.right - 8 : 0;
    const dy = box.top < view.top ? view.top - box.top + 8 : box.bottom > view.bottom ? view.bottom - box.bottom - 8 : 0;
    if (dx || dy) this.panBy(dx, dy);
  }

  dispose(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    clearTimeout(this.settle);
    this.resize?.disconnect();
  }

  /** Clamp the offsets, size the viewport to the content (up to its room), move the content. */
  private apply(): void {
    const cw = this.width * this.scale;
    const ch = this.height * this.scale;
    const height = Math.ceil(Math.min(ch, Math.max(this.roomHeight, 60)));
    if (height !== this.viewHeight) {
      this.viewHeight = height;
      this.node.style.height = `${height}px`;
      this.measure();
    }
    const vw = this.viewWidth || cw;
    const vh = this.clientHeight || height;
    this.tx = cw <= vw ? 0 : clamp(this.tx, vw - cw, 0);
    this.ty = ch <= vh ? 0 : clamp(this.ty, vh - ch, 0);
    // One transform write per frame, however many pointer or wheel events came.
    if (!this.frame) this.frame = requestAnimationFrame(() => this.paint());
  }

  private paint(): void {
    this.frame = 0;
    this.canvas.style.transform = `translate(${this.tx}px, ${this.ty}px) scale(${this.scale})`;
    const zoom = this.scale.toFixed(3);
    if (this.node.dataset.zoom !== zoom) {
      this.node.dataset.zoom = zoom;
      this.onChange();
    }
  }

  /** The viewport's size, read only when it can have changed (reading forces a layout). */
  private measure(): void {
    this.viewWidth = this.node.clientWidth;
    this.clientHeight = this.node.clientHeight;
    this.roomHeight = this.room();
  }

  /**
   * A gesture is going on: keep the content on its own compositor layer until it has been
   * still for a moment (then it is drawn sharp again at the new scale).
   */
  private moving(): void {
    this.node.classList.add('af-panning');
    clearTimeout(this.settle);
    this.settle = setTimeout(() => {
      if (!this.drag?.moved) this.node.classList.remove('af-panning');
    }, 200);
  }

  private onWheel(ev: WheelEvent): void {
    this.moving();
    const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? this.node.clientHeight : 1;
    const rect = this.node.getBoundingClientRect();
    if (ev.ctrlKey || ev.metaKey) {
      // A trackpad pinch arrives as a wheel event with ctrlKey.
      ev.preventDefault();
      this.zoomBy(Math.exp(-ev.deltaY * unit * 0.002), ev.clientX - rect.left, ev.clientY - rect.top);
      return;
    }
    const dx = (ev.shiftKey ? ev.deltaY : ev.deltaX) * unit;
    const dy = (ev.shiftKey ? 0 : ev.deltaY) * unit;
    // At an edge the wheel scrolls the page (a notebook) as usual.
    if (this.panBy(-dx, -dy)) ev.preventDefault();
  }

  private onDown(ev: PointerEvent): void {
    if (ev.button !== 0 || (ev.target as Element).closest?.('button')) return;
    this.pointers.set(ev.pointerId, [ev.clientX, ev.clientY]);
    if (this.pointers.size === 2) {
      const [a, b] = [...this.pointers.values()];
      this.pinch = { dist: Math.hypot(a[0] - b[0], a[1] - b[1]) || 1, scale: this.scale };
      this.drag = null;
      return;
    }
    this.drag = { x: ev.clientX, y: ev.clientY, tx: this.tx, ty: this.ty, moved: false };
  }

  private onMove(ev: PointerEvent): void {
    if (!this.pointers.has(ev.pointerId)) return;
    this.pointers.set(ev.pointerId, [ev.clientX, ev.clientY]);
    if (this.pinch && this.pointers.size === 2) {
      this.moving();
      const [a, b] = [...this.pointers.values()];
      const rect = this.node.getBoundingClientRect();
      const target = (this.pinch.scale * Math.hypot(a[0] - b[0], a[1] - b[1])) / this.pinch.dist;
      this.zoomBy(target / this.scale, (a[0] + b[0]) / 2 - rect.left, (a[1] + b[1]) / 2 - rect.top);
      return;
    }
    const drag = this.drag;
    if (!drag) return;
    const dx = ev.clientX - drag.x;
    const dy = ev.clientY - drag.y;
    if (!drag.moved) {
      if (Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
      drag.moved = true;
      this.node.classList.add('af-panning');
      this.node.setPointerCapture?.(ev.pointerId);
    }
    this.tx = drag.tx + dx;
    this.ty = drag.ty + dy;
    this.touched = true;
    this.apply();
  }

  private onUp(ev: PointerEvent): void {
    this.pointers.delete(ev.pointerId);
    if (this.pointers.size < 2) this.pinch = null;
    if (this.drag?.moved) {
      this.suppressClick = ev.type === 'pointerup';
      this.node.classList.remove('af-panning');
      this.node.releasePointerCapture?.(ev.pointerId);
    }
    this.drag = null;
  }

  private onKey(ev: KeyboardEvent): void {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const onView = ev.target === this.node;
    const pan: Record<string, [number, number]> = {
      ArrowLeft: [KEY_PAN, 0],
      ArrowRight: [-KEY_PAN, 0],
      ArrowUp: [0, KEY_PAN],
      ArrowDown: [0, -KEY_PAN]
    };
    if (ev.key === '+' || ev.key === '=') this.zoomBy(1.25);
    else if (ev.key === '-' || ev.key === '_') this.zoomBy(0.8);
    else if (ev.key === '0') this.fit();
    else if (onView && pan[ev.key]) this.panBy(...pan[ev.key]);
    else return;
    ev.preventDefault();
    ev.stopPropagation();
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
