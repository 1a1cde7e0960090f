// A plain <textarea> with line numbers and a highlight layer behind it: the JSON error, the
// problems' locations and the statement a finding points at. Keeping the real textarea keeps
// native editing, undo, mobile keyboards and screen-reader support.

import { lineOf, type Span } from "./jsonspan.js";

export type MarkKind = "error" | "problem" | "statement";

export interface Mark extends Span {
  kind: MarkKind;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
}

export class Editor {
  readonly textarea: HTMLTextAreaElement;
  private readonly backdrop: HTMLElement;
  private readonly gutter: HTMLElement;
  private marks: Mark[] = [];
  private errorLine: number | null = null;
  private lines = 0;

  constructor(root: HTMLElement) {
    const ta = root.querySelector("textarea");
    const bd = root.querySelector<HTMLElement>(".backdrop");
    const gu = root.querySelector<HTMLElement>(".gutter");
    if (!ta || !bd || !gu) throw new Error("editor markup is incomplete");
    this.textarea = ta;
    this.backdrop = bd;
    this.gutter = gu;
    ta.addEventListener("scroll", () => this.syncScroll());
    ta.addEventListener("input", () => {
      // Marks belong to the text they were computed for; drop them until the next result.
      this.marks = [];
      this.errorLine = null;
      this.render();
    });
    this.render();
  }

  get value(): string {
    return this.textarea.value;
  }

  set value(text: string) {
    this.textarea.value = text;
    this.marks = [];
    this.errorLine = null;
    this.render();
  }

  /** Replace the marks (and the line flagged in the gutter). */
  setMarks(marks: Mark[], errorLine: number | null = null): void {
    this.marks = marks.filter((m) => m.end > m.start || m.kind === "error");
    this.errorLine = errorLine;
    this.render();
  }

  /** Add or replace the one statement highlight, scroll it into view and select it. */
  highlight(span: Span | null): void {
    this.marks = this.marks.filter((m) => m.kind !== "statement");
    if (span) this.marks.push({ ...span, kind: "statement" });
    this.render();
    if (!span) return;
    const text = this.value;
    const first = lineOf(text, span.start);
    const lineHeight = parseFloat(getComputedStyle(this.textarea).lineHeight) || 20;
    this.textarea.scrollTop = Math.max(0, (first - 3) * lineHeight);
    // Select without focusing: keyboard users stay in the findings list.
    this.textarea.setSelectionRange(span.start, span.end);
    this.syncScroll();
    this.textarea.closest(".editor")?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  private syncScroll(): void {
    this.backdrop.scrollTop = this.textarea.scrollTop;
    this.backdrop.scrollLeft = this.textarea.scrollLeft;
    this.gutter.scrollTop = this.textarea.scrollTop;
  }

  private render(): void {
    const text = this.value;
    // Cut the text at every mark boundary; each piece carries the kinds covering it.
    const cuts = new Set<number>([0, text.length]);
    for (const m of this.marks) {
      cuts.add(Math.min(Math.max(m.start, 0), text.length));
      cuts.add(Math.min(Math.max(m.end, 0), text.length));
    }
    const points = [...cuts].sort((a, b) => a - b);
    let html = "";
    for (let i = 0; i + 1 < points.length; i++) {
      const [a, b] = [points[i], points[i + 1]];
      const kinds = this.marks.filter((m) => m.start <= a && m.end >= b && m.end > m.start).map((m) => `m-${m.kind}`);
      const piece = escapeHtml(text.slice(a, b));
      html += kinds.length ? `<mark class="${kinds.join(" ")}">${piece}</mark>` : piece;
    }
    // An error at a point (e.g. the end of the text) still gets a visible caret-sized mark.
    for (const m of this.marks) {
      if (m.kind === "error" && m.end <= m.start && m.start >= text.length) html += '<mark class="m-error"> </mark>';
    }
    // The trailing newline keeps the backdrop as tall as the textarea's last line.
    this.backdrop.innerHTML = html + "\n ";
    const lines = text.split("\n").length;
    if (lines !== this.lines || this.gutter.dataset.errorLine !== String(this.errorLine ?? "")) {
      this.lines = lines;
      this.gutter.dataset.errorLine = String(this.errorLine ?? "");
      let g = "";
      for (let l = 1; l <= lines; l++) g += l === this.errorLine ? `<span class="err">${l}</span>\n` : `${l}\n`;
      this.gutter.innerHTML = g + " ";
    }
    this.syncScroll();
  }
}
