// The Hub write client against the mock Hub on 127.0.0.1: repo creation (409 = exists), the
// preupload → LFS batch (basic, multipart, verify) → NDJSON commit protocol, unchanged-file skipping,
// retries on 429/500, and the 401/403/404/412 messages.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { createHash } from "node:crypto";
import { HubClient } from "../../src/io/hub_api.ts";
import { createCommit, globToRegExp, listFolder, uploadFolder } from "../../src/io/hub_upload.ts";
import { findToken, saveToken, tokenPath } from "../../src/io/hub_token.ts";
import { HubError, resolveModelFiles } from "../../src/io/hub.ts";
import { MockHubWrite, type MockHubWriteOptions } from "./_mock_hub_write.ts";
import { rng } from "../_util.ts";

const TOKEN = "hf_write_token";

function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

async function withMock(
  fn: (hub: MockHubWrite, client: (token?: string) => HubClient, dir: string) => Promise<void>,
  opts: MockHubWriteOptions = {},
): Promise<void> {
  const hub = MockHubWrite.start(opts);
  const dir = await Deno.makeTempDir({ prefix: "hub-upload-" });
  try {
    const env = (k: string) => ({ HF_ENDPOINT: hub.url } as Record<string, string>)[k];
    await fn(hub, (token = TOKEN) => new HubClient({ token, env, backoffMs: 5 }), dir);
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function modelFolder(dir: string, weights: Uint8Array): Promise<string> {
  const d = `${dir}/model`;
  await Deno.mkdir(`${d}/sub`, { recursive: true });
  await Deno.mkdir(`${d}/.git`, { recursive: true });
  await Deno.writeTextFile(`${d}/config.json`, '{"model_type": "bert"}\n');
  await Deno.writeFile(`${d}/model.safetensors`, weights);
  await Deno.writeTextFile(`${d}/sub/notes.txt`, "hello\n");
  await Deno.writeTextFile(`${d}/.git/HEAD`, "ref: refs/heads/main\n");
  return d;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("hub upload: createRepo takes the namespace from whoami; 409 means it exists (exist_ok)", async () => {
  await withMock(async (hub, client) => {
    const c = client();
    const r = await c.createRepo("tiny-ner", { private: true });
    assertEquals(r, { repoId: "alice/tiny-ner", url: `${hub.url}/alice/tiny-ner` });
    assert(hub.repos.get("alice/tiny-ner")!.private, "private flag sent");
    const again = await c.createRepo("alice/tiny-ner");
    assertEquals(again.repoId, "alice/tiny-ner");
    assertEquals(hub.requests.filter((q) => q.path === "/api/repos/create").map((q) => q.status), [200, 409]);
    await assertRejects(() => c.createRepo("alice/tiny-ner", { existOk: false }), HubError, "HTTP 409");
    await assertRejects(() => c.createRepo("bob/other"), HubError, "write access");
    assert(
      hub.requests.every((q) => q.auth === `Bearer ${TOKEN}`),
      "every API call carries the bearer token",
    );
  });
});

Deno.test("hub upload: uploadFolder goes preupload → LFS batch/PUT/verify → NDJSON commit; bytes arrive intact", async () => {
  await withMock(async (hub, client, dir) => {
    const weights = randomBytes(300_000, 1);
    const folder = await modelFolder(dir, weights);
    const c = client();
    await c.createRepo("alice/m");
    const info = await uploadFolder(c, "alice/m", folder, { commitMessage: "first" });
    assertEquals(info.skipped, false);
    assertEquals(info.committed, ["config.json", "model.safetensors", "sub/notes.txt"]);
    assertEquals(info.lfsUploaded, ["model.safetensors"]);
    const repo = hub.repos.get("alice/m")!;
    const w = repo.files.get("model.safetensors")!;
    assert(w.lfs, "weights went through LFS");
    assertEquals(sha256(w.bytes), sha256(weights));
    assertEquals(hub.text("alice/m", "sub/notes.txt"), "hello\n");
    assert(!repo.files.has(".git/HEAD"), ".git/ is never uploaded");
    assertEquals(hub.summaries("alice/m"), ["initial commit", "first"]);
    const kinds = hub.requests.map((q) => `${q.method} ${q.path.replace(/[0-9a-f]{64}/, "OID")}`);
    const order = ["POST /api/models/alice/m/preupload/main", "POST /alice/m.git/info/lfs/objects/batch"];
    assert(order.every((k) => kinds.includes(k)), kinds.join("\n"));
    const put = hub.requests.find((q) => q.path.startsWith("/lfs-upload/"))!;
    assertEquals(put.auth, null, "the upload URL got no Authorization header");
    const verify = hub.requests.find((q) => q.path.endsWith("/objects/verify"))!;
    assertEquals(verify.auth, `Bearer ${TOKEN}`);
    const commit = hub.requests.find((q) => q.path === "/api/models/alice/m/commit/main")!;
    assertEquals([commit.contentType, commit.status], ["application/x-ndjson", 200]);
    // what we pushed downloads back through the cache client
    const cache = await Deno.makeTempDir({ dir });
    const env = (k: string) => ({ HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache } as Record<string, string>)[k];
    const got = await resolveModelFiles("alice/m", ["model.safetensors", "config.json"], { env });
    assertEquals(sha256(await Deno.readFile(got.files["model.safetensors"])), sha256(weights));
  });
});

Deno.test("hub upload: unchanged files are not uploaded again; a commit with nothing to change is skipped", async () => {
  await withMock(async (hub, client, dir) => {
    const folder = await modelFolder(dir, randomBytes(50_000, 2));
    const c = client();
    await c.createRepo("alice/m");
    await uploadFolder(c, "alice/m", folder);
    const received = hub.lfsReceived, commits = hub.summaries("alice/m").length;
    const again = await uploadFolder(c, "alice/m", folder, { commitMessage: "again" });
    assertEquals([again.skipped, again.unchanged.length, again.commitOid], [true, 3, null]);
    assertEquals([hub.lfsReceived, hub.summaries("alice/m").length], [received, commits]);
    await Deno.writeTextFile(`${folder}/config.json`, '{"model_type": "bert", "x": 1}\n');
    const third = await uploadFolder(c, "alice/m", folder, { commitMessage: "config only" });
    assertEquals(third.committed, ["config.json"]);
    assertEquals(hub.repos.get("alice/m")!.commits.at(-1)!.changed, ["config.json"]);
    assertEquals(hub.lfsReceived, received, "the unchanged weights were not sent again");
  });
});

Deno.test("hub upload: a multipart LFS upload (small chunk size) arrives intact and is completed with ETags", async () => {
  const hub0 = { multipartChunk: 1_000_000 };
  await withMock(async (hub, client, dir) => {
    const weights = randomBytes(2_500_001, 3); // hashed in several 1 MiB reads, sent in 3 parts
    const folder = await modelFolder(dir, weights);
    const c = client();
    await c.createRepo("alice/big");
    const info = await uploadFolder(c, "alice/big", folder, { include: ["*.safetensors"] });
    assertEquals(info.committed, ["model.safetensors"]);
    const parts = hub.requests.filter((q) => q.path.startsWith("/lfs-part/"));
    assertEquals(parts.length, 3);
    assert(parts.every((q) => q.auth === null), "part URLs got no Authorization header");
    const done = hub.requests.find((q) => q.path.startsWith("/lfs-complete/"))!;
    assertEquals([done.auth, done.status], [null, 200]);
    assertEquals(sha256(hub.repos.get("alice/big")!.files.get("model.safetensors")!.bytes), sha256(weights));
  }, hub0);
});

Deno.test("hub upload: 429 (with Retry-After) and 500 replies are retried; the commit lands once", async () => {
  await withMock(async (hub, client, dir) => {
    const folder = await modelFolder(dir, randomBytes(20_000, 4));
    const c = client();
    await c.createRepo("alice/m");
    hub.faults = [
      { status: 429, times: 1, path: /\/preupload\//, retryAfter: "1" },
      { status: 500, times: 2, path: /^\/lfs-upload\// },
      { status: 503, times: 1, path: /\/commit\// },
    ];
    const t0 = performance.now();
    const info = await uploadFolder(c, "alice/m", folder, { commitMessage: "retried" });
    assert(performance.now() - t0 >= 950, "Retry-After: 1 was honoured");
    assertEquals(info.skipped, false);
    const pre = hub.requests.filter((q) => q.path.includes("/preupload/")).map((q) => q.status);
    assertEquals(pre, [429, 200]);
    assertEquals(hub.requests.filter((q) => q.path.startsWith("/lfs-upload/")).map((q) => q.status), [
      500,
      500,
      200,
    ]);
    assertEquals(hub.summaries("alice/m"), ["initial commit", "retried"]);
    // bounded: a server that keeps failing gives up with a message
    hub.faults = [{ status: 500, times: 100, path: /\/preupload\// }];
    await Deno.writeTextFile(`${folder}/config.json`, "{}");
    const e = await assertRejects(() => uploadFolder(c, "alice/m", folder), HubError);
    assert(/HTTP 500 .*after 6 attempts/.test(e.message), e.message);
  });
});

Deno.test("hub upload: a stale parentCommit is a clear 412 error and changes nothing", async () => {
  await withMock(async (hub, client) => {
    const c = client();
    await c.createRepo("alice/m");
    const first = hub.repos.get("alice/m")!.commits[0].oid;
    await createCommit(c, "alice/m", [{ pathInRepo: "a.txt", content: "a" }], {
      commitMessage: "a",
      parentCommit: first,
    });
    const e = await assertRejects(
      () =>
        createCommit(c, "alice/m", [{ pathInRepo: "b.txt", content: "b" }], {
          commitMessage: "b",
          parentCommit: first,
        }),
      HubError,
    );
    assert(e.message.includes("HTTP 412") && e.message.includes("moved on"), e.message);
    assert(!hub.repos.get("alice/m")!.files.has("b.txt"));
    // deletions are NDJSON lines too
    await createCommit(c, "alice/m", [{ pathInRepo: "a.txt", delete: true }], { commitMessage: "rm" });
    assert(!hub.repos.get("alice/m")!.files.has("a.txt"));
  });
});

Deno.test("hub upload: 401, 403 and 404 name the repo and the fix; the token never appears", async () => {
  await withMock(async (hub, client, dir) => {
    const folder = await modelFolder(dir, randomBytes(1000, 5));
    await client().createRepo("alice/m");
    const bad = "hf_not_a_valid_token_42";
    const e401 = await assertRejects(() => uploadFolder(client(bad), "alice/m", folder), HubError);
    assert(e401.message.includes("HTTP 401") && e401.message.includes("deno task login"), e401.message);
    assert(!e401.message.includes(bad), "token in message");
    const e404 = await assertRejects(() => uploadFolder(client(), "alice/nope", folder), HubError);
    assert(e404.message.includes("HTTP 404") && e404.message.includes('"alice/nope"'), e404.message);
    assert(e404.message.includes("check the repo id"), e404.message);
    hub.repos.set("carol/x", { private: false, files: new Map(), commits: [] });
    const e403 = await assertRejects(() => uploadFolder(client(), "carol/x", folder), HubError);
    assert(e403.message.includes("HTTP 403") && e403.message.includes("write access"), e403.message);
    assert(!JSON.stringify(client()).includes(TOKEN), "the client does not serialise its token");
  });
});

Deno.test("hub upload: globs filter like fnmatch; listFolder skips .git", async () => {
  assert(globToRegExp("checkpoint-*").test("checkpoint-5/model.safetensors"));
  assert(globToRegExp("*.json").test("sub/config.json"));
  assert(!globToRegExp("*.json").test("config.jsonl"));
  assert(globToRegExp("logs/").test("logs/a/b.txt"));
  assert(globToRegExp("file?.[ch]").test("file1.c") && !globToRegExp("file?.[!ch]").test("file1.c"));
  const dir = await Deno.makeTempDir();
  const folder = await modelFolder(dir, new Uint8Array(10));
  assertEquals(await listFolder(folder), ["config.json", "model.safetensors", "sub/notes.txt"]);
  assertEquals(await listFolder(folder, { exclude: ["sub/*"] }), ["config.json", "model.safetensors"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("hub token: HF_TOKEN, then HUGGING_FACE_HUB_TOKEN, then the token file (HF_TOKEN_PATH / HF_HOME)", async () => {
  const dir = await Deno.makeTempDir();
  const env = (vars: Record<string, string>) => (k: string) => vars[k];
  assertEquals(tokenPath(env({ HF_HOME: "/h" })), "/h/token");
  assertEquals(tokenPath(env({ XDG_CACHE_HOME: "/x" })), "/x/huggingface/token");
  assertEquals(tokenPath(env({ HOME: "/home/u" })), "/home/u/.cache/huggingface/token");
  assertEquals(tokenPath(env({ HF_TOKEN_PATH: "/t/tok", HF_HOME: "/h" })), "/t/tok");
  const e = env({ HF_HOME: dir });
  assertEquals(findToken(e), null);
  const path = await saveToken("  hf_file_token\n", e);
  assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
  assertEquals(findToken(e), { token: "hf_file_token", source: "token file" });
  assertEquals(findToken(env({ HF_HOME: dir, HUGGING_FACE_HUB_TOKEN: "legacy" }))?.token, "legacy");
  assertEquals(
    findToken(env({ HF_HOME: dir, HF_TOKEN: " env ", HUGGING_FACE_HUB_TOKEN: "legacy" }))?.token,
    "env",
  );
  assertEquals(findToken(e, "explicit")?.source, "argument");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("hub upload: HF_HUB_OFFLINE=1 refuses to talk to the Hub, saying so", async () => {
  await withMock(async (hub) => {
    const env = (k: string) => ({ HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: "1" } as Record<string, string>)[k];
    const c = new HubClient({ token: TOKEN, env });
    await assertRejects(() => c.createRepo("alice/x"), HubError, "HF_HUB_OFFLINE is set");
    assertEquals(hub.requests.length, 0);
  });
});
