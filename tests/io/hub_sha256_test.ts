// Issue 13 item 7: a Hub download whose bytes do not match the LFS ETag's sha256 is refused and deleted
// (it was cached and reused forever); the hash is computed while the bytes arrive; a cached blob found
// corrupt when the file is requested again is downloaded again. Against the mock Hub on 127.0.0.1.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { HubError, resolveModelFiles } from "../../src/io/hub.ts";
import { Sha256 } from "../../src/io/sha256.ts";
import { MockHub } from "./_mock_hub.ts";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const WEIGHTS = Uint8Array.from({ length: 300_001 }, (_, i) => (i * 131 + (i >> 7)) & 255);
const CONFIG = new TextEncoder().encode('{"model_type": "bert"}');

Deno.test("hub (item 7): bytes that do not match the sha256 ETag are refused, deleted, and fetched again", async () => {
  const hub = await MockHub.start({
    "org/tiny": {
      commit: COMMIT,
      files: { "config.json": CONFIG, "model.safetensors": WEIGHTS },
      lfs: ["model.safetensors"],
    },
  });
  const cache = await Deno.makeTempDir();
  const env = (k: string) => ({ HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache } as Record<string, string>)[k];
  const blobs = `${cache}/models--org--tiny/blobs`;
  try {
    const sha = hub.sha("org/tiny", "model.safetensors");
    hub.corrupt.add(sha);
    const e = await assertRejects(
      () => resolveModelFiles("org/tiny", ["config.json", "model.safetensors"], { env }),
      HubError,
      `not the ETag's ${sha}`,
    );
    assert(e.message.includes("model.safetensors"), e.message);
    const left = [...Deno.readDirSync(blobs)].map((x) => x.name);
    assert(!left.includes(sha) && !left.includes(`${sha}.incomplete`), `corrupt bytes kept: ${left}`);

    hub.corrupt.delete(sha);
    const ok = await resolveModelFiles("org/tiny", ["config.json", "model.safetensors"], { env });
    assertEquals(await Deno.readFile(ok.files["model.safetensors"]), WEIGHTS);

    // The cached blob goes bad on disk; asked for again (the snapshot is gone, so the Hub is asked), it is
    // re-verified against its sha256 name and downloaded again.
    const bad = WEIGHTS.slice();
    bad[1000] ^= 1;
    await Deno.writeFile(`${blobs}/${sha}`, bad);
    await Deno.remove(`${cache}/models--org--tiny/snapshots`, { recursive: true });
    const gets = hub.requests.filter((r) => r.method === "GET" && r.path.startsWith("/cdn/")).length;
    const again = await resolveModelFiles("org/tiny", ["config.json", "model.safetensors"], { env });
    assertEquals(await Deno.readFile(again.files["model.safetensors"]), WEIGHTS);
    assertEquals(
      hub.requests.filter((r) => r.method === "GET" && r.path.startsWith("/cdn/")).length,
      gets + 1,
    );
  } finally {
    await hub.close();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("sha256: incremental hashing in any chunking equals WebCrypto's digest", async () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 100_003]) {
    const data = WEIGHTS.subarray(0, n);
    const h = new Sha256();
    for (let i = 0, k = 1; i < n; i += k, k = (k * 7) % 97 + 1) {
      h.update(data.subarray(i, Math.min(n, i + k)));
    }
    const want = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", data.slice())),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    assertEquals(h.hex(), want, `n=${n}`);
  }
});
