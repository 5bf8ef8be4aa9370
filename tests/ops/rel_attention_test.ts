import { logBucketPosition, relAttention, relLayout } from "../../src/ops/rel_attention.ts";
import { backward } from "../../src/engine/tape.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { assertClose, dot, f64, finiteDiff, randn, rng, setupGpu } from "../_util.ts";
import { assert, assertEquals } from "../_assert.ts";
import {
  relAttentionGradRef,
  relAttentionRef,
  type RelDims,
  type RelDropout,
  type RelInputs,
  span,
} from "../ref/rel_attention.ts";

await setupGpu();
const FWD = { atol: 2e-6, rtol: 1e-4 };
const GRAD = { atol: 2e-5, rtol: 1e-3 };
const NO_DROP = { p: 0, seed: 0 };

type MaskKind = "none" | "pad" | "edge";
type Terms = "both" | "c2p" | "p2c" | "none";

/** "pad": right padding of random length per batch; "edge": batch 0 one real token, batch 1 none. */
function makeMask(b: number, t: number, kind: MaskKind, seed: number): Float32Array | null {
  if (kind === "none") return null;
  const u = rng(seed);
  const m = new Float32Array(b * t);
  for (let bb = 0; bb < b; bb++) m.fill(1, bb * t, bb * t + 1 + Math.floor(u() * t));
  if (kind === "edge") {
    m.fill(0, 0, t);
    m[0] = 1;
    if (b > 1) m.fill(0, t, 2 * t);
  }
  return m;
}

interface Case {
  x: RelInputs;
  r: Float32Array;
}

function makeCase(dims: RelDims, kind: MaskKind, terms: Terms, seed: number): Case {
  const n = dims.b * dims.t * dims.h * dims.d, np = 2 * span(dims) * dims.h * dims.d;
  return {
    x: {
      q: randn(n, seed),
      k: randn(n, seed + 1),
      v: randn(n, seed + 2),
      pk: terms === "both" || terms === "c2p" ? randn(np, seed + 3) : null,
      pq: terms === "both" || terms === "p2c" ? randn(np, seed + 4) : null,
      mask: makeMask(dims.b, dims.t, kind, seed + 5),
    },
    r: randn(n, seed + 6),
  };
}

function scaleOf(x: RelInputs, d: number): number {
  return Math.fround(Math.sqrt(d * (1 + (x.pk ? 1 : 0) + (x.pq ? 1 : 0))));
}

/**
 * GPU forward and backward: [out, dq, dk, dv, dpk?, dpq?]. `windowed`: pk/pq are given as the layout's
 * window rows only (their gradients then cover those rows).
 */
async function runGpu(c: Case, dims: RelDims, drop: RelDropout, windowed = false): Promise<Float32Array[]> {
  return await tidy(async () => {
    const shape = [dims.b, dims.t, dims.h * dims.d];
    const hd = dims.h * dims.d;
    const leaf = (a: ArrayLike<number>, s: number[], name: string) => {
      const t = Tensor.from(a, s, "f32", name);
      t.requiresGrad = true;
      return t;
    };
    const [q, k, v] = [c.x.q, c.x.k, c.x.v].map((a, i) => leaf(a, shape, ["q", "k", "v"][i]));
    const layout = relLayout(dims.b, dims.t, c.x.mask, {
      positionBuckets: dims.buckets,
      maxRelativePositions: dims.maxRel,
    });
    const rows = (a: ArrayLike<number>) =>
      windowed ? Float32Array.from(a).subarray(layout.rLo * hd, (layout.rLo + layout.wn) * hd) : a;
    const pshape = [windowed ? layout.wn : 2 * span(dims), hd];
    const pk = c.x.pk ? leaf(rows(c.x.pk), pshape, "pk") : null;
    const pq = c.x.pq ? leaf(rows(c.x.pq), pshape, "pq") : null;
    const out = relAttention(q, k, v, pk, pq, layout, dims.h, {
      scale: scaleOf(c.x, dims.d),
      dropoutP: drop.p,
      seed: drop.seed,
    });
    const outHost = await out.read();
    backward(out, Tensor.from(c.r, shape));
    const grads = [q, k, v, ...(pk ? [pk] : []), ...(pq ? [pq] : [])].map((t) => t.grad!);
    return [outHost, ...(await readAll(grads))] as Float32Array[];
  });
}

async function checkAgainstRef(dims: RelDims, kind: MaskKind, terms: Terms, drop: RelDropout, seed: number) {
  const c = makeCase(dims, kind, terms, seed);
  const scale = scaleOf(c.x, dims.d);
  const ref = relAttentionRef(c.x, dims, scale, drop);
  const [rq, rk, rv, rpk, rpq] = relAttentionGradRef(c.x, c.r, dims, scale, drop);
  const hd = dims.h * dims.d;
  const { rLo, wn } = tidy(() => {
    const l = relLayout(dims.b, dims.t, null, {
      positionBuckets: dims.buckets,
      maxRelativePositions: dims.maxRel,
    });
    return { rLo: l.rLo, wn: l.wn };
  });
  for (const windowed of [false, true]) {
    const [out, ...grads] = await runGpu(c, dims, drop, windowed);
    assertClose(out, ref, FWD, `out (windowed ${windowed})`);
    const win = (a: Float64Array) => (windowed ? a.subarray(rLo * hd, (rLo + wn) * hd) : a);
    const refs = [rq, rk, rv, ...(c.x.pk ? [win(rpk)] : []), ...(c.x.pq ? [win(rpq)] : [])];
    const names = ["dq", "dk", "dv", ...(c.x.pk ? ["dpk"] : []), ...(c.x.pq ? ["dpq"] : [])];
    refs.forEach((r, i) => assertClose(grads[i], r, GRAD, `${names[i]} (windowed ${windowed})`));
  }
  // Rows outside the window are never read: their reference gradient is exactly 0.
  for (const g of [rpk, rpq]) {
    if (g.some((x, i) => x !== 0 && (i < rLo * hd || i >= (rLo + wn) * hd))) {
      throw new Error("gradient outside the window");
    }
  }
}

// T > 64 spans several workgroups of rows; buckets 8 / max 64 exercise the log buckets and the clamps.
const CASES: [RelDims, MaskKind, Terms][] = [
  [{ b: 2, t: 70, h: 3, d: 8, buckets: 8, maxRel: 64 }, "edge", "both"],
  [{ b: 3, t: 17, h: 2, d: 4, buckets: -1, maxRel: 5 }, "pad", "both"],
  [{ b: 1, t: 130, h: 2, d: 64, buckets: 256, maxRel: 512 }, "pad", "both"],
  [{ b: 2, t: 9, h: 3, d: 12, buckets: 4, maxRel: 16 }, "pad", "c2p"],
  [{ b: 2, t: 11, h: 1, d: 20, buckets: 6, maxRel: 32 }, "none", "p2c"],
  [{ b: 2, t: 7, h: 2, d: 8, buckets: 8, maxRel: 64 }, "pad", "none"],
  [{ b: 1, t: 1, h: 2, d: 4, buckets: 256, maxRel: 512 }, "none", "both"],
  [{ b: 2, t: 66, h: 2, d: 5, buckets: 16, maxRel: 40 }, "edge", "both"],
];

for (const [dims, kind, terms] of CASES) {
  const name = `B${dims.b} T${dims.t} H${dims.h} D${dims.d} buckets ${dims.buckets}/${dims.maxRel}, ` +
    `mask ${kind}, ${terms}`;
  Deno.test(`rel_attention: forward and backward match float64 at ${name}`, async () => {
    await checkAgainstRef(dims, kind, terms, NO_DROP, dims.t * 7 + dims.d);
  });
}

Deno.test("rel_attention: dropout forward/backward match the float64 reference with the same RNG", async () => {
  await checkAgainstRef({ b: 2, t: 33, h: 2, d: 8, buckets: 8, maxRel: 64 }, "pad", "both", {
    p: 0.2,
    seed: 7,
  }, 5);
  await checkAgainstRef({ b: 1, t: 66, h: 1, d: 64, buckets: 256, maxRel: 512 }, "edge", "both", {
    p: 0.1,
    seed: 99,
  }, 6);
});

Deno.test("rel_attention: backward equals central finite differences of the float64 forward", async () => {
  for (
    const [dims, kind, drop] of [
      [{ b: 2, t: 6, h: 2, d: 4, buckets: 4, maxRel: 8 }, "pad", NO_DROP],
      [{ b: 1, t: 9, h: 1, d: 8, buckets: -1, maxRel: 3 }, "none", { p: 0.25, seed: 3 }],
    ] as [RelDims, MaskKind, RelDropout][]
  ) {
    const c = makeCase(dims, kind, "both", 40 + dims.d);
    const scale = scaleOf(c.x, dims.d);
    const [, ...grads] = await runGpu(c, dims, drop);
    const loss = ([q, k, v, pk, pq]: Float64Array[]) =>
      dot(relAttentionRef({ q, k, v, pk, pq, mask: c.x.mask }, dims, scale, drop), c.r);
    const inputs = [f64(c.x.q), f64(c.x.k), f64(c.x.v), f64(c.x.pk!), f64(c.x.pq!)];
    const tol = { atol: 5e-5, rtol: 1e-3 };
    ["dq", "dk", "dv", "dpk", "dpq"].forEach((name, i) => {
      assertClose(grads[i], finiteDiff(loss, inputs, i, 1e-5), tol, `${name} vs FD`);
    });
  }
});

Deno.test("rel_attention: log buckets equal the fixtures' PyTorch tables", async () => {
  for (const dir of ["deberta-v3-tiny-parity", "deberta-v3-tiny-parity-std01"]) {
    const url = new URL(`../fixtures/${dir}/golden.json`, import.meta.url);
    const g = JSON.parse(await Deno.readTextFile(url)).deberta_relative_positions;
    const buckets = g.att_span as number, maxPos = g.max_position_for_buckets as number;
    for (const [dist, bucket] of Object.entries(g.relative_distance_to_bucket as Record<string, number>)) {
      const got = logBucketPosition(Number(dist), buckets, maxPos);
      if (got !== bucket) throw new Error(`${dir}: bucket(${dist}) = ${got}, PyTorch ${bucket}`);
      const neg = logBucketPosition(-Number(dist), buckets, maxPos);
      if (neg !== -bucket) throw new Error(`${dir}: bucket(-${dist}) = ${neg}, expected ${-bucket}`);
    }
  }
  // Far distances saturate at the last bucket: with buckets 256 and max 512, |d| = 511 → 255.
  if (logBucketPosition(511, 256, 512) !== 255) {
    throw new Error(`bucket(511) = ${logBucketPosition(511, 256, 512)}`);
  }
});

Deno.test("rel_attention: runs its own kernels around batched matmuls, and rejects bad shapes", async () => {
  const dims = { b: 1, t: 5, h: 2, d: 4, buckets: 4, maxRel: 8 };
  const c = makeCase(dims, "none", "both", 1);
  const g = gpu();
  const labels: string[] = [];
  const dispatch = g.dispatch;
  g.dispatch = (spec) => {
    labels.push(spec.label);
    dispatch.call(g, spec);
  };
  try {
    await runGpu(c, dims, NO_DROP);
  } finally {
    g.dispatch = dispatch;
  }
  const ours = [...new Set(labels.filter((l) => l.startsWith("rel_attention.")))].sort();
  assertEquals(ours, [
    "rel_attention.merge_heads",
    "rel_attention.rel_p2c_bwd",
    "rel_attention.rel_softmax_bwd",
    "rel_attention.rel_softmax_fwd",
    "rel_attention.split_heads",
    "rel_attention.unwindow_heads",
    "rel_attention.window_heads",
  ]);
  assert(labels.some((l) => l.startsWith("matmul.")), "the products run on the matmul kernels");
  assert(!labels.some((l) => l.startsWith("attention.")), "BERT's attention kernels are not used");
  tidy(() => {
    const q = Tensor.from(new Float32Array(2 * 3 * 6), [2, 3, 6]);
    const layout = relLayout(2, 3, null, { positionBuckets: 4, maxRelativePositions: 8 });
    let msg = "";
    try {
      relAttention(q, q, q, null, null, layout, 4, { scale: 1 });
    } catch (e) {
      msg = (e as Error).message;
    }
    if (!msg.includes("not divisible into 4 heads")) throw new Error(`got '${msg}'`);
  });
});
