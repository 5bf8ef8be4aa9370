import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  type DownloadProgress,
  hubCacheDir,
  HubError,
  isValidModelId,
  resolveModelFiles,
} from "../../src/io/hub.ts";
import { MockHub } from "./_mock_hub.ts";
import { rng } from "./_safetensors_util.ts";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const GATED_COMMIT = "fedcba9876543210fedcba9876543210fedcba98";
const TOKEN = "hf_test_token_123";

function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

const WEIGHTS = randomBytes(1 << 20, 1);
const CONFIG = new TextEncoder().encode('{"model_type": "bert", "num_labels": 9}');
const TOKENIZER = new TextEncoder().encode('{"version": "1.0"}');

/** Runs `fn` with a fresh mock Hub and an empty cache folder; both are always cleaned up. */
async function withHub(
  fn: (
    hub: MockHub,
    env: (extra?: Record<string, string>) => (k: string) => string | undefined,
    cache: string,
  ) => Promise<void>,
): Promise<void> {
  const hub = await MockHub.start({
    "org/tiny": {
      commit: COMMIT,
      files: { "config.json": CONFIG, "model.safetensors": WEIGHTS, "tokenizer.json": TOKENIZER },
      lfs: ["model.safetensors"],
    },
    "gated/model": { commit: GATED_COMMIT, files: { "config.json": CONFIG }, token: TOKEN },
  });
  const cache = await Deno.makeTempDir({ prefix: "hub-cache-" });
  try {
    const env = (extra: Record<string, string> = {}) => {
      const vars: Record<string, string> = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, ...extra };
      return (k: string) => vars[k];
    };
    await fn(hub, env, cache);
  } finally {
    await hub.close();
    await Deno.remove(cache, { recursive: true });
  }
}

async function same(path: string, want: Uint8Array): Promise<boolean> {
  const got = await Deno.readFile(path);
  return got.length === want.length && got.every((v, i) => v === want[i]);
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("hub: hubCacheDir follows HF_HUB_CACHE, then HF_HOME/hub, then ~/.cache/huggingface/hub", () => {
  const env = (vars: Record<string, string>) => (k: string) => vars[k];
  assertEquals(hubCacheDir(env({ HF_HUB_CACHE: "/c", HF_HOME: "/h", HOME: "/home/u" })), "/c");
  assertEquals(hubCacheDir(env({ HF_HOME: "/h", HOME: "/home/u" })), "/h/hub");
  assertEquals(hubCacheDir(env({ HF_HOME: "~/hf", HOME: "/home/u" })), "/home/u/hf/hub");
  assertEquals(hubCacheDir(env({ XDG_CACHE_HOME: "/x", HOME: "/home/u" })), "/x/huggingface/hub");
  assertEquals(hubCacheDir(env({ HOME: "/home/u" })), "/home/u/.cache/huggingface/hub");
});

Deno.test("hub: model id validation", () => {
  for (const ok of ["bert-base-cased", "dslim/bert-base-NER", "a", "org_1/m.v2"]) {
    assert(isValidModelId(ok), ok);
  }
  for (const bad of ["", "a/b/c", "../x", "a--b", "-x", "x.", "a b", "org/", "x".repeat(97), "m.git"]) {
    assert(!isValidModelId(bad), bad);
  }
});

Deno.test("hub: a local folder is used as is; a missing file lists what the folder has", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hub-local-" });
  try {
    await Deno.writeFile(`${dir}/config.json`, CONFIG);
    await Deno.writeFile(`${dir}/vocab.txt`, new Uint8Array(1));
    const r = await resolveModelFiles(dir, ["config.json"], { optional: ["tokenizer.json"] });
    assertEquals(r, { dir, files: { "config.json": `${dir}/config.json` } });
    const e = await assertRejects(
      () => resolveModelFiles(dir, ["config.json", "model.safetensors"]),
      HubError,
      "has no model.safetensors",
    );
    assert(e.message.includes("config.json, vocab.txt"), e.message);
    await assertRejects(
      () => resolveModelFiles("./no/such/dir", ["config.json"]),
      HubError,
      "neither a local folder",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hub: first call downloads into blobs/snapshots/refs; the second makes no request", async () => {
  await withHub(async (hub, env, cache) => {
    const progress: DownloadProgress[] = [];
    const r = await resolveModelFiles("org/tiny", ["config.json", "model.safetensors"], {
      optional: ["tokenizer.json", "special_tokens_map.json"],
      env: env(),
      onProgress: (p) => progress.push({ ...p }),
    });
    const repo = `${cache}/models--org--tiny`;
    assertEquals(r.dir, `${repo}/snapshots/${COMMIT}`);
    assertEquals(Object.keys(r.files).sort(), ["config.json", "model.safetensors", "tokenizer.json"]);
    assert(await same(r.files["model.safetensors"], WEIGHTS), "weights bytes");
    assert(await same(r.files["config.json"], CONFIG), "config bytes");
    assertEquals(await Deno.readTextFile(`${repo}/refs/main`), COMMIT);
    // blobs named by ETag: sha256 for the LFS file (X-Linked-Etag), the weak ETag stripped for the others
    const sha = hub.sha("org/tiny", "model.safetensors");
    assertEquals(await Deno.readLink(`${r.dir}/model.safetensors`), `../../blobs/${sha}`);
    assertEquals(
      await Deno.readLink(`${r.dir}/config.json`),
      `../../blobs/${hub.sha("org/tiny", "config.json").slice(0, 40)}`,
    );
    assertEquals((await names(`${repo}/blobs`)).length, 3);
    assert(!(await names(`${repo}/blobs`)).some((n) => n.endsWith(".incomplete")), "no partial files");
    // the optional file the Hub does not have is remembered, so it is not asked for again
    assert(
      (await Deno.stat(`${repo}/.no_exist/${COMMIT}/special_tokens_map.json`)).isFile,
      ".no_exist marker",
    );
    // progress: per file, increasing, ending at the total
    const w = progress.filter((p) => p.file === "model.safetensors");
    assert(w.length >= 2, "several progress events for the 1 MB file");
    for (let i = 1; i < w.length; i++) assert(w[i].bytes >= w[i - 1].bytes, "monotonic");
    assertEquals(w.at(-1), { file: "model.safetensors", bytes: WEIGHTS.length, total: WEIGHTS.length });
    // the LFS file was fetched from the CDN location of the 302
    assert(hub.requests.some((q) => q.method === "GET" && q.path === `/cdn/${sha}`), "CDN GET");

    const seen = hub.requests.length;
    const again = await resolveModelFiles("org/tiny", ["config.json", "model.safetensors"], {
      optional: ["tokenizer.json", "special_tokens_map.json"],
      env: env(),
    });
    assertEquals(again, r);
    assertEquals(hub.requests.length, seen, "second call must be served from the cache");
  });
});

Deno.test("hub: offline mode works from the cache and fails clearly without it", async () => {
  await withHub(async (hub, env, cache) => {
    const offline = env({ HF_HUB_OFFLINE: "1" });
    const e = await assertRejects(
      () => resolveModelFiles("org/tiny", ["config.json"], { env: offline }),
      HubError,
      "HF_HUB_OFFLINE",
    );
    for (const part of ["org/tiny", cache, "unset HF_HUB_OFFLINE", "local folder"]) {
      assert(e.message.includes(part), `"${e.message}" lacks "${part}"`);
    }
    assertEquals(hub.requests.length, 0, "offline makes no request");
    await resolveModelFiles("org/tiny", ["config.json"], { env: env() });
    const n = hub.requests.length;
    const r = await resolveModelFiles("org/tiny", ["config.json"], { env: offline, optional: ["vocab.txt"] });
    assert(await same(r.files["config.json"], CONFIG), "cached config");
    assertEquals(Object.keys(r.files), ["config.json"]);
    // a file not in the cache is still an error offline, naming it
    await assertRejects(
      () => resolveModelFiles("org/tiny", ["model.safetensors"], { env: offline }),
      HubError,
      "missing model.safetensors",
    );
    assertEquals(hub.requests.length, n, "no requests while offline");
  });
});

Deno.test("hub: missing repository, file or revision is a 404 error naming the URL", async () => {
  await withHub(async (hub, env) => {
    let e = await assertRejects(
      () => resolveModelFiles("org/nope", ["config.json"], { env: env() }),
      HubError,
      "repository or file not found",
    );
    assert(e.message.includes(`${hub.url}/org/nope/resolve/main/config.json`), e.message);
    e = await assertRejects(
      () => resolveModelFiles("org/tiny", ["pytorch_model.bin"], { env: env() }),
      HubError,
      "repository or file not found",
    );
    assert(e.message.includes("/org/tiny/resolve/main/pytorch_model.bin"), e.message);
    await assertRejects(
      () => resolveModelFiles("org/tiny", ["config.json"], { env: env(), revision: "v9" }),
      HubError,
      "/org/tiny/resolve/v9/config.json",
    );
  });
});

Deno.test("hub: a gated repo answers 401 without the token; HF_TOKEN is sent and then it works", async () => {
  await withHub(async (hub, env) => {
    const e = await assertRejects(
      () => resolveModelFiles("gated/model", ["config.json"], { env: env() }),
      HubError,
      "HTTP 401",
    );
    assert(e.message.includes("private or gated") && e.message.includes("set HF_TOKEN"), e.message);
    await assertRejects(
      () => resolveModelFiles("gated/model", ["config.json"], { env: env({ HF_TOKEN: "hf_wrong" }) }),
      HubError,
      "HF_TOKEN was refused",
    );
    const r = await resolveModelFiles("gated/model", ["config.json"], { env: env({ HF_TOKEN: TOKEN }) });
    assert(await same(r.files["config.json"], CONFIG), "gated config");
    assertEquals(r.dir.endsWith(`models--gated--model/snapshots/${GATED_COMMIT}`), true);
    assert(hub.requests.some((q) => q.auth === `Bearer ${TOKEN}`), "the token was sent");
  });
});

Deno.test("hub: an interrupted download leaves .incomplete and the next call resumes it with Range", async () => {
  await withHub(async (hub, env, cache) => {
    const sha = hub.sha("org/tiny", "model.safetensors");
    const half = WEIGHTS.length >> 1;
    hub.cutAfter.set(sha, half);
    const e = await assertRejects(
      () => resolveModelFiles("org/tiny", ["model.safetensors"], { env: env() }),
      HubError,
      "interrupted",
    );
    assert(e.message.includes("next call resumes"), e.message);
    const part = `${cache}/models--org--tiny/blobs/${sha}.incomplete`;
    assertEquals((await Deno.stat(part)).size, half);
    const progress: DownloadProgress[] = [];
    const r = await resolveModelFiles("org/tiny", ["model.safetensors"], {
      env: env(),
      onProgress: (p) => progress.push({ ...p }),
    });
    const gets = hub.requests.filter((q) => q.method === "GET" && q.path === `/cdn/${sha}`);
    assertEquals(gets.map((q) => q.range), [null, `bytes=${half}-`]);
    assertEquals(progress[0], { file: "model.safetensors", bytes: half, total: WEIGHTS.length });
    assert(await same(r.files["model.safetensors"], WEIGHTS), "resumed bytes are exact");
    assertEquals(await names(`${cache}/models--org--tiny/blobs`), [sha]);
  });
});

Deno.test("hub: a server that ignores Range (200) restarts the download and still ends exact", async () => {
  await withHub(async (hub, env, cache) => {
    const sha = hub.sha("org/tiny", "model.safetensors");
    hub.cutAfter.set(sha, 300_000);
    await assertRejects(() => resolveModelFiles("org/tiny", ["model.safetensors"], { env: env() }), HubError);
    hub.ignoreRange = true;
    const r = await resolveModelFiles("org/tiny", ["model.safetensors"], { env: env() });
    const gets = hub.requests.filter((q) => q.method === "GET" && q.path === `/cdn/${sha}`);
    assertEquals(gets.at(-1)!.range, "bytes=300000-");
    assert(await same(r.files["model.safetensors"], WEIGHTS), "bytes exact after restart");
    assert(
      !(await names(`${cache}/models--org--tiny/blobs`)).some((n) => n.endsWith(".incomplete")),
      "no partial",
    );
  });
});

Deno.test("hub: a commit hash as revision needs no ref and is cached under that commit", async () => {
  await withHub(async (hub, env, cache) => {
    const r = await resolveModelFiles("org/tiny", ["config.json"], { env: env(), revision: COMMIT });
    assertEquals(r.dir, `${cache}/models--org--tiny/snapshots/${COMMIT}`);
    assert(
      hub.requests.some((q) => q.path === `/org/tiny/resolve/${COMMIT}/config.json`),
      "commit in the URL",
    );
    const n = hub.requests.length;
    await resolveModelFiles("org/tiny", ["config.json"], {
      env: env({ HF_HUB_OFFLINE: "1" }),
      revision: COMMIT,
    });
    assertEquals(hub.requests.length, n);
    await assertRejects(() => Deno.stat(`${cache}/models--org--tiny/refs/${COMMIT}`), Deno.errors.NotFound);
  });
});

Deno.test("hub: when the branch moved, newly fetched files land in one snapshot of the new commit", async () => {
  await withHub(async (hub, env, cache) => {
    const NEW = "1111111111111111111111111111111111111111";
    await resolveModelFiles("org/tiny", ["config.json"], { env: env() });
    hub.repos["org/tiny"].commit = NEW;
    const gets = () => hub.requests.filter((q) => q.method === "GET").length;
    const before = gets();
    const r = await resolveModelFiles("org/tiny", ["config.json", "tokenizer.json"], { env: env() });
    const repo = `${cache}/models--org--tiny`;
    assertEquals(r.dir, `${repo}/snapshots/${NEW}`);
    assertEquals(Object.keys(r.files).sort(), ["config.json", "tokenizer.json"]);
    for (const p of Object.values(r.files)) assert(p.startsWith(r.dir), p);
    assert(await same(r.files["config.json"], CONFIG), "config linked into the new snapshot");
    assertEquals(gets() - before, 1, "only tokenizer.json downloaded; config.json's blob reused");
    assertEquals(await Deno.readTextFile(`${repo}/refs/main`), NEW);
  });
});
