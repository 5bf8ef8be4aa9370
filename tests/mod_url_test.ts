// mod.ts must work when imported from a URL (deno.json's import map does not apply there): serve the repo
// on 127.0.0.1 and run a kernel through `import … from "http://127.0.0.1:PORT/mod.ts"` in a subprocess.
import { assertEquals } from "./_assert.ts";

const root = new URL("../", import.meta.url);

Deno.test("mod.ts imported from an http URL runs a GPU kernel", async () => {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname).replace(/^\/+/, "");
      if (path.includes("..")) return new Response("bad path", { status: 400 });
      try {
        const body = await Deno.readFile(new URL(path, root));
        const type = path.endsWith(".ts") ? "application/typescript" : "text/plain";
        return new Response(body, { headers: { "content-type": type } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `import { add, initGpu, Tensor } from "${base}/mod.ts";
await initGpu();
const s = add(Tensor.from([1, 2, 3], [3]), Tensor.from([10, 20, 30], [3]));
console.log(JSON.stringify([...await s.read()]));`,
  );
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-import=127.0.0.1:${server.addr.port}`, "--allow-read", "--allow-env", script],
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, `subprocess failed:\n${stderr}`);
    assertEquals(stdout.split("\n").pop(), "[11,22,33]");
  } finally {
    ac.abort();
    await server.finished;
    await Deno.remove(script);
  }
});
