// The fused Q/K/V product against three `linear`s (the unfused path, itself checked against PyTorch by the
// parity fixtures and against finite differences by the matmul/attention tests): the same context
// (bit for bit), the same parameter gradients (bit for bit) and input gradients equal up to rounding.
import { FUSED_QKV_MAX_WIDTH, qkvAttention, setFusedQkv } from "../../src/model/fused_qkv.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { backward } from "../../src/engine/tape.ts";
import { readAll, Tensor, tidy } from "../../src/engine/tensor.ts";
import { assert, assertEquals } from "../_assert.ts";
import { assertClose, randn, setupGpu } from "../_util.ts";

await setupGpu();

interface Case {
  B: number;
  T: number;
  h: number;
  heads: number;
  dropoutP: number;
}

/** Context, gradients (x, then weight/bias of q, k, v) and dispatch labels of one forward + backward. */
async function run(c: Case, fused: boolean, seed: number) {
  setFusedQkv(fused);
  try {
    return await traceDispatches(() =>
      tidy(async () => {
        const x = Tensor.from(randn(c.B * c.T * c.h, seed, 0.5), [c.B, c.T, c.h], "f32", "x");
        const params = [0, 1, 2].flatMap((i) => [
          Tensor.from(randn(c.h * c.h, seed + 10 + i, 0.2), [c.h, c.h], "f32", `w${i}`),
          Tensor.from(randn(c.h, seed + 20 + i, 0.1), [c.h], "f32", `b${i}`),
        ]);
        for (const t of [x, ...params]) t.requiresGrad = true;
        const m = new Float32Array(c.B * c.T).fill(1);
        m.fill(0, c.T - 3, c.T); // the last three keys of the first sequence are padding
        const mask = Tensor.from(m, [c.B, c.T], "f32", "mask");
        const [wq, bq, wk, bk, wv, bv] = params;
        const ctx = qkvAttention(x, [wq, bq], [wk, bk], [wv, bv], mask, c.heads, {
          dropoutP: c.dropoutP,
          seed: 7,
        });
        const out = await ctx.readF32();
        backward(ctx, Tensor.from(randn(ctx.size, seed + 30), ctx.shape, "f32", "g"));
        const grads = await readAll([x, ...params].map((t) => t.grad!));
        for (const t of [x, ...params]) t.grad?.dispose();
        return { out, grads: grads as Float32Array[] };
      })
    );
  } finally {
    setFusedQkv("auto");
  }
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

for (
  const c of [
    { B: 2, T: 13, h: 36, heads: 3, dropoutP: 0 }, // D = 12: the generic attention kernels
    { B: 3, T: 21, h: 128, heads: 2, dropoutP: 0.1 }, // D = 64: the fast kernels, with dropout
  ]
) {
  Deno.test(`fused qkv: equals three linears at B=${c.B} T=${c.T} h=${c.h} H=${c.heads} p=${c.dropoutP}`, async () => {
    const ref = await run(c, false, 100);
    const got = await run(c, true, 100);
    assertEquals(Array.from(got.result.out), Array.from(ref.result.out), "context (bit for bit)");
    const names = ["x", "query.weight", "query.bias", "key.weight", "key.bias", "value.weight", "value.bias"];
    got.result.grads.forEach((g, i) => {
      const r = ref.result.grads[i];
      if (i === 0) assertClose(g, r, { atol: 1e-6 * maxAbs(r), rtol: 1e-5 }, "input gradient");
      else assertEquals(Array.from(g), Array.from(r), `${names[i]} gradient (bit for bit)`);
    });
    const count = (labels: string[], re: RegExp) => labels.filter((l) => re.test(l)).length;
    // Unfused: 3 forward products + 2 per projection backward; fused: 1 forward + 2 backward.
    assertEquals(count(ref.labels, /^matmul\.mm_/), 9, ref.labels.join());
    assertEquals(count(got.labels, /^matmul\.mm_/), 3, got.labels.join());
    assert(got.labels.includes("elementwise.split_cols3") && got.labels.includes("elementwise.concat_cols3"));
    assert(!ref.labels.includes("elementwise.split_cols3"));
  });
}

Deno.test("fused qkv: without gradients the context is the same and nothing stays allocated", async () => {
  const c = { B: 2, T: 9, h: 32, heads: 2, dropoutP: 0 };
  const outs: Float32Array[] = [];
  const before = gpu().pool.stats().inUseCount;
  for (const fused of [false, true]) {
    setFusedQkv(fused);
    try {
      outs.push(
        await tidy(async () => {
          const x = Tensor.from(randn(c.B * c.T * c.h, 5), [c.B, c.T, c.h]);
          const p = [0, 1, 2].map((i) =>
            [
              Tensor.from(randn(c.h * c.h, 6 + i, 0.2), [c.h, c.h]),
              Tensor.from(randn(c.h, 9 + i, 0.1), [c.h]),
            ] as [Tensor, Tensor]
          );
          return await qkvAttention(x, p[0], p[1], p[2], null, c.heads).readF32();
        }),
      );
    } finally {
      setFusedQkv("auto");
    }
  }
  assertEquals(Array.from(outs[1]), Array.from(outs[0]));
  assertEquals(gpu().pool.stats().inUseCount, before, "tensors left allocated");
});

Deno.test('fused qkv: "auto" fuses up to FUSED_QKV_MAX_WIDTH and runs three products above it', async () => {
  const products = async (h: number) => {
    setFusedQkv("auto");
    const { labels } = await traceDispatches(() =>
      tidy(async () => {
        const x = Tensor.from(randn(2 * 3 * h, 1), [2, 3, h]);
        const p = [0, 1, 2].map((i) =>
          [
            Tensor.from(randn(h * h, 2 + i, 0.05), [h, h]),
            Tensor.from(randn(h, 5 + i, 0.05), [h]),
          ] as [Tensor, Tensor]
        );
        await qkvAttention(x, p[0], p[1], p[2], null, h / 64).readF32();
      })
    );
    return labels.filter((l) => /^matmul\.mm_/.test(l)).length;
  };
  assertEquals(await products(FUSED_QKV_MAX_WIDTH), 1);
  assertEquals(await products(FUSED_QKV_MAX_WIDTH + 64), 3);
});

Deno.test("fused qkv: after a backward pass no temporaries stay allocated", async () => {
  const before = gpu().pool.stats().inUseCount;
  await run({ B: 2, T: 5, h: 16, heads: 2, dropoutP: 0 }, true, 300);
  assertEquals(gpu().pool.stats().inUseCount, before, "tensors left allocated");
});
