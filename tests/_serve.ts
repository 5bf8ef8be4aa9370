/**
 * A static file server for tests: serves files below `base` over http on 127.0.0.1 (port 0) while `fn`
 * runs, then shuts down. `.ts` files are served as TypeScript so Deno can import them.
 * @module
 */

/** Runs `fn` with the origin (`http://127.0.0.1:PORT`) of a server for the files below `base`. */
export async function serving<T>(base: URL, fn: (origin: string) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname).replace(/^\/+/, "");
      if (path.includes("..")) return new Response("bad path", { status: 400 });
      try {
        const body = await Deno.readFile(new URL(path, base));
        return new Response(req.method === "HEAD" ? null : body, {
          headers: {
            "content-type": path.endsWith(".ts") ? "application/typescript" : "application/octet-stream",
          },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  try {
    return await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    ac.abort();
    await server.finished;
  }
}
