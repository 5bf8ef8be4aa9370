import { assertEquals, assertRejects } from "../_assert.ts";
import * as nodePath from "node:path";
import * as nodeUrl from "node:url";
import { createHash } from "node:crypto";
import * as path from "../../src/io/path.ts";
import { Sha1 } from "../../src/io/sha1.ts";
import { MemoryStore, readFileBytes, resolveUrlFolder } from "../../src/io/storage.ts";

const CASES = [
  "",
  ".",
  "/",
  "a",
  "a/b/",
  "/a//b/../c",
  "../x",
  "a/../..",
  "./a/./b",
  "/..",
  "a/b/..",
  "/x//",
];

Deno.test("path helpers agree with node:path on POSIX", () => {
  for (const c of CASES) {
    for (const f of ["normalize", "dirname", "basename", "isAbsolute", "resolve"] as const) {
      // deno-lint-ignore no-explicit-any
      assertEquals((path as any)[f](c), (nodePath.posix as any)[f](c), `${f}(${JSON.stringify(c)})`);
    }
  }
  const pairs = [["a", "b"], ["/x/y", "/x/z/w"], ["/", "/a"], ["/a/b/c", "/a"], ["", "q/r"], ["a/", "../b"]];
  for (const [a, b] of pairs) {
    assertEquals(path.join(a, b), nodePath.posix.join(a, b), `join(${a}, ${b})`);
    assertEquals(path.relative(a, b), nodePath.posix.relative(a, b), `relative(${a}, ${b})`);
  }
  for (const p of ["/tmp/a b#c%d", "/x/é/ü?", "rel/dir/"]) {
    assertEquals(path.pathToFileURL(p).href, nodeUrl.pathToFileURL(p).href);
    assertEquals(path.fileURLToPath(path.pathToFileURL(p)), nodeUrl.fileURLToPath(nodeUrl.pathToFileURL(p)));
  }
});

Deno.test("Sha1 equals node:crypto's sha1 across block boundaries", () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 65536]) {
    const b = crypto.getRandomValues(new Uint8Array(n));
    assertEquals(
      new Sha1().update("blob ").update(b).hex(),
      createHash("sha1").update("blob ").update(b).digest("hex"),
    );
  }
});

Deno.test("storage seam: MemoryStore, http reads and URL folders", async () => {
  const m = new MemoryStore();
  await m.writeFile("out/run/a.json", new Uint8Array([1]));
  await m.writeFile("out/run/sub/b", new Uint8Array([2]));
  assertEquals(await m.list("out/run"), ["a.json", "sub"]);
  assertEquals(await m.exists("./out/run/a.json"), true);
  await assertRejects(() => m.readFile("nope"), Error, "file not found");
  const ac = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} }, (req) => {
    const p = new URL(req.url).pathname;
    if (p === "/m/config.json") return new Response(req.method === "HEAD" ? null : "{}");
    return new Response("no", { status: 404 });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}/m`;
    assertEquals(new TextDecoder().decode(await readFileBytes(`${base}/config.json`)), "{}");
    await assertRejects(() => readFileBytes(`${base}/x.bin`), Error, "HTTP 404");
    const r = await resolveUrlFolder(
      base,
      ["config.json", "model.safetensors"],
      new Set(["model.safetensors"]),
    );
    assertEquals(r, { dir: base, files: { "config.json": `${base}/config.json` } });
    // Required files are not probed: they map to their URL, and reading one names it.
    const t = await resolveUrlFolder(`${base}/`, ["tokenizer.json"], new Set());
    assertEquals(t.files["tokenizer.json"], `${base}/tokenizer.json`);
    await assertRejects(
      () => readFileBytes(t.files["tokenizer.json"]),
      Error,
      `${base}/tokenizer.json: HTTP 404`,
    );
  } finally {
    ac.abort();
    await server.finished;
  }
});
