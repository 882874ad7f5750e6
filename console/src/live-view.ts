import { describeBody } from "./body-codec.js";

export interface LiveMessage {
  readonly id: bigint;
  readonly publishedAtMs: bigint;
  readonly body: Uint8Array;
}

export interface LiveViewOptions {
  /** Rows kept in the table; older rows are removed as new ones arrive. */
  readonly maxRows: number;
  /** Longest body text shown in a row; the rest is cut with an ellipsis. */
  readonly maxBodyChars: number;
}

export const DEFAULT_LIVE_VIEW_OPTIONS: LiveViewOptions = { maxRows: 500, maxBodyChars: 200 };

/**
 * The live subscription table. Messages may arrive hundreds per second, so
 * `add` only queues them; one animation frame renders everything queued since
 * the last, at most `maxRows` of it, in a single DOM insertion. While the tab
 * is hidden no frames run and the queue keeps only the newest `maxRows`.
 */
export class LiveView {
  private pending: LiveMessage[] = [];
  private frame: number | undefined;
  private received = 0;
  private rateWindow: { at: number; received: number } = { at: performance.now(), received: 0 };
  private rate = 0;

  constructor(
    private readonly rows: HTMLTableSectionElement,
    private readonly scroller: HTMLElement,
    private readonly stats: HTMLElement,
    private readonly options: LiveViewOptions = DEFAULT_LIVE_VIEW_OPTIONS,
  ) {
    // The rate falls back to 0 when messages stop, without waiting for another frame.
    setInterval(() => this.renderStats(), 1000);
  }

  add(message: LiveMessage): void {
    this.received += 1;
    this.pending.push(message);
    // Bound memory when frames are not running (hidden tab): only the newest rows would be shown anyway.
    if (this.pending.length > this.options.maxRows * 2) this.pending = this.pending.slice(-this.options.maxRows);
    this.frame ??= requestAnimationFrame(() => this.render());
  }

  clear(): void {
    this.pending = [];
    this.rows.replaceChildren();
    this.received = 0;
    this.rate = 0;
    this.rateWindow = { at: performance.now(), received: 0 };
    this.renderStats();
  }

  private render(): void {
    this.frame = undefined;
    const batch = this.pending.length > this.options.maxRows ? this.pending.slice(-this.options.maxRows) : this.pending;
    this.pending = [];
    // Follow the newest row only when the reader is already at the bottom.
    const atBottom = this.scroller.scrollTop + this.scroller.clientHeight >= this.scroller.scrollHeight - 4;
    const fragment = document.createDocumentFragment();
    for (const message of batch) fragment.append(this.row(message));
    this.rows.append(fragment);
    const excess = this.rows.rows.length - this.options.maxRows;
    for (let i = 0; i < excess; i++) this.rows.firstElementChild?.remove();
    if (atBottom) this.scroller.scrollTop = this.scroller.scrollHeight;
    this.renderStats();
  }

  private row(message: LiveMessage): HTMLTableRowElement {
    const tr = document.createElement("tr");
    tr.dataset.id = String(message.id);
    const body = describeBody(message.body);
    const text =
      body.value.length > this.options.maxBodyChars ? `${body.value.slice(0, this.options.maxBodyChars)}…` : body.value;
    tr.append(
      cell("id", String(message.id)),
      cell("time", formatTime(message.publishedAtMs)),
      cell("size", `${message.body.length} B`),
      cell(`body ${body.encoding}`, text),
    );
    return tr;
  }

  private renderStats(): void {
    const now = performance.now();
    const elapsed = now - this.rateWindow.at;
    if (elapsed >= 1000) {
      this.rate = Math.round(((this.received - this.rateWindow.received) * 1000) / elapsed);
      this.rateWindow = { at: now, received: this.received };
    }
    const kept = this.rows.rows.length;
    const hidden = this.received - kept;
    this.stats.textContent =
      `${this.received} received · ${this.rate}/s · showing the last ${kept}` +
      (hidden > 0 ? ` (${hidden} older not shown)` : "");
    this.stats.dataset.received = String(this.received);
  }
}

function cell(className: string, text: string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.className = className;
  td.textContent = text;
  return td;
}

export function formatTime(ms: bigint): string {
  const date = new Date(Number(ms));
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
