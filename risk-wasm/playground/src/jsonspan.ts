// Where things are in the policy text: a small JSON scanner that keeps character offsets, so a
// finding's statement or a problem's JSON path (`Statement[2].Effect`) can be highlighted.
// Only used on text the engine already parsed; on anything else it returns null.

export interface Span {
  start: number;
  end: number;
}

export type JsonNode =
  | { kind: "object"; start: number; end: number; entries: { key: string; keyStart: number; value: JsonNode }[] }
  | { kind: "array"; start: number; end: number; items: JsonNode[] }
  | { kind: "scalar"; start: number; end: number };

class Scanner {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    while (this.i < this.s.length && " \t\n\r".includes(this.s[this.i])) this.i++;
  }

  value(depth: number): JsonNode {
    if (depth > 512) throw new Error("too deep");
    this.ws();
    const start = this.i;
    const c = this.s[this.i];
    if (c === "{") {
      this.i++;
      const entries: { key: string; keyStart: number; value: JsonNode }[] = [];
      this.ws();
      if (this.s[this.i] === "}") {
        this.i++;
        return { kind: "object", start, end: this.i, entries };
      }
      for (;;) {
        this.ws();
        const keyStart = this.i;
        const key = this.string();
        this.ws();
        this.expect(":");
        const value = this.value(depth + 1);
        entries.push({ key, keyStart, value });
        this.ws();
        if (this.s[this.i] === ",") {
          this.i++;
          continue;
        }
        this.expect("}");
        return { kind: "object", start, end: this.i, entries };
      }
    }
    if (c === "[") {
      this.i++;
      const items: JsonNode[] = [];
      this.ws();
      if (this.s[this.i] === "]") {
        this.i++;
        return { kind: "array", start, end: this.i, items };
      }
      for (;;) {
        items.push(this.value(depth + 1));
        this.ws();
        if (this.s[this.i] === ",") {
          this.i++;
          continue;
        }
        this.expect("]");
        return { kind: "array", start, end: this.i, items };
      }
    }
    if (c === '"') {
      this.string();
      return { kind: "scalar", start, end: this.i };
    }
    const m = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(this.s.slice(this.i, this.i + 64));
    if (!m) throw new Error("unexpected character");
    this.i += m[0].length;
    return { kind: "scalar", start, end: this.i };
  }

  string(): string {
    this.expect('"');
    const from = this.i;
    while (this.i < this.s.length && this.s[this.i] !== '"') {
      this.i += this.s[this.i] === "\\" ? 2 : 1;
    }
    const raw = this.s.slice(from, this.i);
    this.expect('"');
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return raw;
    }
  }

  expect(c: string): void {
    if (this.s[this.i] !== c) throw new Error(`expected ${c}`);
    this.i++;
  }
}

/** The tree of spans of a JSON text, or null when it is not valid JSON. */
export function parseSpans(text: string): JsonNode | null {
  try {
    const sc = new Scanner(text);
    const root = sc.value(0);
    sc.ws();
    return sc.i === text.length ? root : null;
  } catch {
    return null;
  }
}

/**
 * The span of the value at a JSON path as the engine writes it (`Statement[2].Action[0]`,
 * `Statement.Effect`); `""` is the whole document. Keys may contain dots, so the longest key
 * that fits is taken. Returns the deepest part of the path that exists, or null.
 */
export function pathSpan(root: JsonNode, path: string): Span | null {
  let node: JsonNode = root;
  let rest = path;
  while (rest.length > 0) {
    if (rest.startsWith("[")) {
      const m = /^\[(\d+)\]/.exec(rest);
      if (!m || node.kind !== "array") break;
      const item: JsonNode | undefined = node.items[Number(m[1])];
      if (!item) break;
      node = item;
      rest = rest.slice(m[0].length);
      continue;
    }
    if (rest.startsWith(".")) rest = rest.slice(1);
    if (node.kind !== "object") break;
    let best: { key: string; keyStart: number; value: JsonNode } | null = null;
    for (const e of node.entries) {
      const fits = rest === e.key || rest.startsWith(`${e.key}.`) || rest.startsWith(`${e.key}[`);
      if (fits && (!best || e.key.length > best.key.length)) best = e;
    }
    if (!best) break;
    rest = rest.slice(best.key.length);
    // A key that is itself the problem ("is not a statement element"): include the key.
    node = rest.length === 0 ? { kind: "scalar", start: best.keyStart, end: best.value.end } : best.value;
  }
  return node === root && path !== "" ? null : { start: node.start, end: node.end };
}

/** The span of statement `index` (0-based): an element of `Statement`, or the object itself. */
export function statementSpan(root: JsonNode, index: number): Span | null {
  if (root.kind !== "object") return null;
  const st = root.entries.filter((e) => e.key === "Statement").pop();
  if (!st) return null;
  if (st.value.kind === "array") {
    const item = st.value.items[index];
    return item ? { start: item.start, end: item.end } : null;
  }
  return index === 0 ? { start: st.value.start, end: st.value.end } : null;
}

/** 1-based line of a character offset. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Character offset of a 1-based line and column as serde_json reports them (columns count
 * bytes of UTF-8 in the line; close enough for highlighting: we clamp to the line).
 */
export function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf("\n", offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  const eol = text.indexOf("\n", offset);
  const lineEnd = eol < 0 ? text.length : eol;
  return Math.min(offset + Math.max(column - 1, 0), lineEnd);
}

/** Span of the whole 1-based line. */
export function lineSpan(text: string, line: number): Span {
  const start = offsetOf(text, line, 1);
  const eol = text.indexOf("\n", start);
  return { start, end: eol < 0 ? text.length : eol };
}
