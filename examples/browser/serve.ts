/**
 * `deno task serve-example`: serves the repository's files on 127.0.0.1 so the browser example
 * (examples/browser/index.html) can import dist/webgpu-ner.js and fetch data/ (run `deno task bundle` first;
 * the task does). `--port N` (default 8000).
 * @module
 */
const MIME: Record<string, string> = {
  ".js": "text/javascript",
  ".html": "text/html; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
};
const i = Deno.args.indexOf("--port");
const port = i >= 0 ? Number(Deno.args[i + 1]) : 8000;
const root = new URL("../../", import.meta.url);
Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ port }) => console.error(`open http://127.0.0.1:${port}/examples/browser/index.html`),
}, async (req) => {
  const path = decodeURIComponent(new URL(req.url).pathname);
  if (path === "/") return Response.redirect(new URL("/examples/browser/index.html", req.url), 302);
  if (path.includes("..")) return new Response("bad path", { status: 400 });
  try {
    const body = await Deno.readFile(new URL(path.slice(1), root));
    return new Response(req.method === "HEAD" ? null : body, {
      headers: { "content-type": MIME[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream" },
    });
  } catch {
    return new Response("not found", { status: 404 });
  }
});
