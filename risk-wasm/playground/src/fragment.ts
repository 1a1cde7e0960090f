// The view in the URL fragment: mode, policy (or old and new), options. The fragment never
// leaves the browser (it is not part of HTTP requests), so a link reproduces the view without
// the policy being sent anywhere.

export interface ViewState {
  mode: "score" | "diff";
  policy: string;
  oldPolicy: string;
  newPolicy: string;
  /** The options form, as entered. */
  options: Record<string, string>;
}

function toBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function pipe(bytes: Uint8Array, stream: TransformStream<Uint8Array, Uint8Array>): Promise<Uint8Array> {
  const body = new Blob([bytes as BlobPart]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(body).arrayBuffer());
}

const canCompress = typeof CompressionStream === "function" && typeof DecompressionStream === "function";

/** `z` + base64url(deflate-raw(utf-8)) where the browser can compress, else `u` + base64url(utf-8). */
export async function encodeText(text: string): Promise<string> {
  const utf8 = new TextEncoder().encode(text);
  if (canCompress) {
    return "z" + toBase64Url(await pipe(utf8, new CompressionStream("deflate-raw") as TransformStream<Uint8Array, Uint8Array>));
  }
  return "u" + toBase64Url(utf8);
}

export async function decodeText(s: string): Promise<string> {
  const bytes = fromBase64Url(s.slice(1));
  if (s[0] === "z") {
    if (!canCompress) throw new Error("this browser cannot decompress the link");
    return new TextDecoder().decode(
      await pipe(bytes, new DecompressionStream("deflate-raw") as TransformStream<Uint8Array, Uint8Array>),
    );
  }
  if (s[0] === "u") return new TextDecoder().decode(bytes);
  throw new Error("unknown encoding");
}

export async function encodeState(st: ViewState): Promise<string> {
  const p = new URLSearchParams();
  p.set("mode", st.mode);
  if (st.mode === "diff") {
    p.set("old", await encodeText(st.oldPolicy));
    p.set("new", await encodeText(st.newPolicy));
  } else {
    p.set("policy", await encodeText(st.policy));
  }
  const opts = Object.fromEntries(Object.entries(st.options).filter(([, v]) => v !== ""));
  if (Object.keys(opts).length > 0) p.set("options", await encodeText(JSON.stringify(opts)));
  return p.toString();
}

/** The state in a fragment (without `#`), or null when there is none or it is unreadable. */
export async function decodeState(fragment: string): Promise<ViewState | null> {
  if (!fragment) return null;
  try {
    const p = new URLSearchParams(fragment);
    const mode = p.get("mode") === "diff" ? "diff" : "score";
    const get = async (k: string): Promise<string> => {
      const v = p.get(k);
      return v ? decodeText(v) : "";
    };
    const rawOpts = await get("options");
    const parsed: unknown = rawOpts ? JSON.parse(rawOpts) : {};
    const options: Record<string, string> = {};
    if (parsed && typeof parsed === "object") {
      for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") options[k] = v;
    }
    if (!p.has("policy") && !p.has("old") && !p.has("new")) return null;
    return { mode, policy: await get("policy"), oldPolicy: await get("old"), newPolicy: await get("new"), options };
  } catch {
    return null;
  }
}
