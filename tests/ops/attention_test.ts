import {
  attention,
  type AttentionPath,
  attentionUsesSubgroups,
  setAttentionPath,
  setAttentionSubgroups,
} from "../../src/ops/attention.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { backward } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { fallbackCounts, noteFallback, traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { assert, assertEquals } from "../_assert.ts";
import { assertClose, dot, f64, finiteDiff, randn, rng, setupGpu } from "../_util.ts";
import { attentionGradRef, attentionRef, type AttnDims, type AttnDropout } from "../ref/attention.ts";

await setupGpu();
const FWD = { atol: 2e-6, rtol: 1e-4 };
const GRAD = { atol: 2e-5, rtol: 1e-3 };

type MaskKind = "none" | "random" | "edge";

/**
 * A (B, T) mask. "random": ~30% of keys masked, at least one kept per batch. "edge": batch 0 keeps one key
 * only, batch 1 (if any) masks every key (HF then attends uniformly), the rest random.
 */
function makeMask(b: number, t: number, kind: MaskKind, seed: number): Float32Array | null {
  if (kind === "none") return null;
  const u = rng(seed);
  const m = Float32Array.from({ length: b * t }, () => (u() < 0.3 ? 0 : 1));
  for (let bb = 0; bb < b; bb++) m[bb * t + Math.floor(u() * t)] = 1;
  if (kind === "edge") {
    m.fill(0, 0, t);
    m[Math.min(t - 1, 3)] = 1;
    if (b > 1) m.fill(0, t, 2 * t);
  }
  return m;
}

interface Case {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  mask: Float32Array | null;
  r: Float32Array;
}

function makeCase(dims: AttnDims, kind: MaskKind, seed: number): Case {
  const n = dims.b * dims.t * dims.h * dims.d;
  return {
    q: randn(n, seed),
    k: randn(n, seed + 1),
    v: randn(n, seed + 2),
    mask: makeMask(dims.b, dims.t, kind, seed + 3),
    r: randn(n, seed + 4),
  };
}

/** GPU forward and backward with upstream gradient R: [out, dq, dk, dv]. */
async function runGpu(c: Case, dims: AttnDims, drop: AttnDropout): Promise<Float32Array[]> {
  return await tidy(async () => {
    const shape = [dims.b, dims.t, dims.h * dims.d];
    const [q, k, v] = [c.q, c.k, c.v].map((x, i) => {
      const t = Tensor.from(x, shape, "f32", ["q", "k", "v"][i]);
      t.requiresGrad = true;
      return t;
    });
    const mask = c.mask ? Tensor.from(c.mask, [dims.b, dims.t]) : null;
    const out = attention(q, k, v, mask, dims.h, { dropoutP: drop.p, seed: drop.seed });
    const outHost = await out.read();
    backward(out, Tensor.from(c.r, shape));
    return [outHost, ...(await readAll([q.grad!, k.grad!, v.grad!]))] as Float32Array[];
  });
}

async function checkAgainstRef(dims: AttnDims, kind: MaskKind, drop: AttnDropout, seed: number) {
  const c = makeCase(dims, kind, seed);
  const [out, dq, dk, dv] = await runGpu(c, dims, drop);
  assertClose(out, attentionRef(c.q, c.k, c.v, c.mask, dims, drop), FWD, "out");
  const [rq, rk, rv] = attentionGradRef(c.q, c.k, c.v, c.mask, c.r, dims, drop);
  assertClose(dq, rq, GRAD, "dq");
  assertClose(dk, rk, GRAD, "dk");
  assertClose(dv, rv, GRAD, "dv");
}

const NO_DROP = { p: 0, seed: 0 };

/** Runs `fn` with the given kernel selection, restoring the default afterwards. */
async function withPath(path: AttentionPath, textureLimit: number, fn: () => Promise<void>): Promise<void> {
  setAttentionPath(path, textureLimit);
  try {
    await fn();
  } finally {
    setAttentionPath("auto");
  }
}

// D = 64 takes the texture kernels (4 rows per invocation); other D the generic kernels (D = 5: padded).
const CASES: [AttnDims, MaskKind][] = [
  [{ b: 2, t: 130, h: 2, d: 64 }, "edge"],
  [{ b: 3, t: 5, h: 3, d: 64 }, "edge"],
  [{ b: 1, t: 1, h: 2, d: 64 }, "none"],
  [{ b: 2, t: 17, h: 3, d: 8 }, "random"],
  [{ b: 3, t: 33, h: 2, d: 5 }, "edge"],
  [{ b: 1, t: 1, h: 2, d: 4 }, "random"],
  [{ b: 2, t: 7, h: 4, d: 12 }, "none"],
  [{ b: 1, t: 40, h: 1, d: 128 }, "random"],
];

/** The attention kernels a run encoded (from the dispatch trace). */
async function attentionKernels(fn: () => Promise<void>): Promise<string[]> {
  const { labels } = await traceDispatches(fn);
  return [...new Set(labels.filter((l) => l.startsWith("attention.attn_")))].sort();
}

/** The D = 64 kernels, with the subgroup row loaders (`_sg`) where this device runs them. */
const FAST = ["attention.attn_bwd_dkv64", "attention.attn_bwd_dq64", "attention.attn_fwd64"]
  .map((l) => attentionUsesSubgroups() ? `${l}_sg` : l);
const GENERIC = ["attention.attn_bwd_dkv", "attention.attn_bwd_dq", "attention.attn_fwd"];

for (const [dims, kind] of CASES) {
  const name = `B${dims.b} T${dims.t} H${dims.h} D${dims.d}, mask ${kind}`;
  Deno.test(`attention: forward and backward match float64 at ${name}`, async () => {
    const fallbacks = fallbackCounts().attention ?? 0;
    const ran = await attentionKernels(() => checkAgainstRef(dims, kind, NO_DROP, dims.t * 7 + dims.d));
    // The trace proves the path: D = 64 ran the texture kernels, nothing else; others the generic ones.
    assertEquals(ran, dims.d === 64 ? FAST : GENERIC);
    assertEquals(fallbackCounts().attention ?? 0, fallbacks);
  });
}

Deno.test("attention: a D = 64 launch the textures cannot hold falls back visibly (counted, warned once)", async () => {
  const before = fallbackCounts().attention ?? 0;
  let ran: string[] = [];
  await withPath("auto", 40, async () => { // T = 50 rows exceed a 40-texel limit
    ran = await attentionKernels(() => checkAgainstRef({ b: 1, t: 50, h: 1, d: 64 }, "none", NO_DROP, 77));
  });
  assertEquals(ran, GENERIC);
  assert((fallbackCounts().attention ?? 0) > before, "the fallback was silent");
  const warned: string[] = [];
  noteFallback("test-op", "why", (l) => warned.push(l));
  noteFallback("test-op", "why", (l) => warned.push(l));
  assertEquals([warned.length, fallbackCounts()["test-op"]], [1, 2]);
});

Deno.test("attention: the generic kernels at D = 64 match float64 too", async () => {
  await withPath("generic", 0, async () => {
    const ran = await attentionKernels(() =>
      checkAgainstRef({ b: 2, t: 19, h: 2, d: 64 }, "edge", { p: 0.2, seed: 5 }, 3)
    );
    assertEquals(ran, GENERIC);
  });
});

Deno.test("attention: the D = 64 kernels split the batch when textures are small", async () => {
  // Limit 70 texels: 64 texture rows, so 2 batches of T = 30 per chunk and B = 3 runs as chunks of 2 and 1.
  await withPath("auto", 70, async () => {
    const { labels } = await traceDispatches(() =>
      checkAgainstRef({ b: 3, t: 30, h: 2, d: 64 }, "edge", { p: 0.1, seed: 9 }, 4)
    );
    assertEquals(labels.filter((l) => l === FAST[2]).length, 2); // chunks of 2 and 1
    assert(!labels.includes("attention.attn_fwd"), "the generic kernel ran");
  });
});

Deno.test("attention: the D = 64 kernels' subgroup row loaders equal the per-lane loads bit for bit", async () => {
  // lavapipe (a CPU adapter with 8-lane subgroups) runs them by default.
  assert(
    attentionUsesSubgroups(),
    `no subgroup attention: directive ${gpu().subgroupWgsl}, subgroups of ${gpu().adapterInfo.subgroupMinSize}`,
  );
  // T = 130: three 64-row workgroups, the last with one live lane (rows 128..131) whose 7 subgroup
  // neighbours lie past T and still take part in the broadcasts; T = 5 and 33 with masks and dropout.
  const runs: [AttnDims, MaskKind, AttnDropout][] = [
    [{ b: 2, t: 130, h: 2, d: 64 }, "edge", NO_DROP],
    [{ b: 3, t: 5, h: 3, d: 64 }, "random", { p: 0.2, seed: 77 }],
    [{ b: 2, t: 33, h: 1, d: 64 }, "edge", { p: 0.1, seed: 5 }],
  ];
  for (const [dims, kind, drop] of runs) {
    const c = makeCase(dims, kind, dims.t + 900);
    let sg: Float32Array[] = [], plain: Float32Array[] = [];
    const sgRan = await attentionKernels(async () => void (sg = await runGpu(c, dims, drop)));
    setAttentionSubgroups("off");
    try {
      const plainRan = await attentionKernels(async () => void (plain = await runGpu(c, dims, drop)));
      assertEquals(plainRan, ["attention.attn_bwd_dkv64", "attention.attn_bwd_dq64", "attention.attn_fwd64"]);
    } finally {
      setAttentionSubgroups("auto");
    }
    assertEquals(sgRan, [
      "attention.attn_bwd_dkv64_sg",
      "attention.attn_bwd_dq64_sg",
      "attention.attn_fwd64_sg",
    ]);
    ["out", "dq", "dk", "dv"].forEach((n, i) => assertEquals(Array.from(sg[i]), Array.from(plain[i]), n));
  }
});

Deno.test("attention: many sequence lengths in a row (staging textures are cached and evicted)", async () => {
  for (let i = 0; i < 12; i++) {
    const t = 3 + 60 * i; // heights 64·k + 1 for k = 1 .. 12: more sizes than the cache holds
    await checkAgainstRef({ b: 1, t, h: 1, d: 64 }, "random", NO_DROP, 100 + i);
  }
});

Deno.test("attention: dropout forward/backward match the float64 reference with the same RNG", async () => {
  await checkAgainstRef({ b: 2, t: 33, h: 2, d: 16 }, "random", { p: 0.1, seed: 1234 }, 5);
  await checkAgainstRef({ b: 1, t: 17, h: 3, d: 5 }, "edge", { p: 0.5, seed: 99 }, 6);
  await checkAgainstRef({ b: 2, t: 70, h: 2, d: 64 }, "edge", { p: 0.1, seed: 4321 }, 7);
  await checkAgainstRef({ b: 1, t: 9, h: 1, d: 64 }, "random", { p: 1, seed: 1 }, 8); // everything dropped
});

Deno.test("attention: the dropout mask depends on the seed only", async () => {
  const dims = { b: 1, t: 20, h: 2, d: 8 };
  const c = makeCase(dims, "random", 8);
  const [a] = await runGpu(c, dims, { p: 0.3, seed: 7 });
  const [b] = await runGpu(c, dims, { p: 0.3, seed: 7 });
  const [d] = await runGpu(c, dims, { p: 0.3, seed: 8 });
  assertClose(a, b, { atol: 0, rtol: 0 }, "same seed");
  if (a.every((x, i) => x === d[i])) throw new Error("a different seed gave the same output");
});

Deno.test("attention: backward equals central finite differences of the float64 forward", async () => {
  for (
    const [dims, drop] of [
      [{ b: 2, t: 6, h: 2, d: 4 }, NO_DROP],
      [{ b: 1, t: 5, h: 2, d: 5 }, { p: 0.25, seed: 3 }],
      [{ b: 2, t: 5, h: 1, d: 64 }, { p: 0.25, seed: 11 }],
    ] as [AttnDims, AttnDropout][]
  ) {
    const c = makeCase(dims, "random", 40 + dims.d);
    const [, dq, dk, dv] = await runGpu(c, dims, drop);
    const loss = ([q, k, v]: Float64Array[]) => dot(attentionRef(q, k, v, c.mask, dims, drop), c.r);
    const inputs = [f64(c.q), f64(c.k), f64(c.v)];
    const tol = { atol: 5e-5, rtol: 1e-3 };
    assertClose(dq, finiteDiff(loss, inputs, 0, 1e-5), tol, "dq vs FD");
    assertClose(dk, finiteDiff(loss, inputs, 1, 1e-5), tol, "dk vs FD");
    assertClose(dv, finiteDiff(loss, inputs, 2, 1e-5), tol, "dv vs FD");
  }
});

Deno.test("attention: rejects bad shapes", () => {
  tidy(() => {
    const q = Tensor.from(new Float32Array(2 * 3 * 6), [2, 3, 6]);
    let msg = "";
    try {
      attention(q, q, q, null, 4);
    } catch (e) {
      msg = (e as Error).message;
    }
    if (!msg.includes("not divisible into 4 heads")) throw new Error(`got '${msg}'`);
  });
});
