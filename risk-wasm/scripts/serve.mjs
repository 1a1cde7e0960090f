// A minimal static file server on 127.0.0.1 for the playground, its tests and the benchmark.
// Any static host works the same way; this one only adds the right MIME type for .wasm.
//
//   node risk-wasm/scripts/serve.mjs [DIR] [--port N]     (DIR defaults to playground/dist)

import { existsSync, readFile, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".jsonl": "application/x-ndjson",
  ".ts": "text/plain; charset=utf-8",
  ".png": "image/png",
};

/**
 * Serve `root` on 127.0.0.1. `files` maps extra URL paths to files outside it; `headers` are
 * added to every response. Resolves to `{ url, port, log, close() }`; `log` lists every path asked for.
 */
export function serve(root, { port = 0, headers = {}, files = {} } = {}) {
  const base = resolve(root);
  const log = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname);
    log.push(path);
    let file = files[path];
    if (!file) {
      file = normalize(join(base, path));
      if (file !== base && !file.startsWith(base + sep)) {
        res.writeHead(403).end("forbidden");
        return;
      }
      if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    }
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    readFile(file, (err, body) => {
      if (err) {
        res.writeHead(500, { "content-type": "text/plain" }).end("cannot read the file");
        return;
      }
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "content-length": body.length,
        "cache-control": "no-cache",
        ...headers,
      });
      res.end(body);
    });
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", () => {
      const { port: p } = server.address();
      ok({
        url: `http://127.0.0.1:${p}`,
        port: p,
        log,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--port");
  const port = at >= 0 ? Number(args.splice(at, 2)[1]) : 8080;
  const dir = args[0] ?? join(dirname(fileURLToPath(import.meta.url)), "../playground/dist");
  const s = await serve(dir, { port });
  console.log(`serving ${resolve(dir)} at ${s.url}/ (Ctrl-C to stop)`);
}
