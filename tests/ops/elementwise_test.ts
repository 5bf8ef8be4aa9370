import { add, biasAdd, fill, mul, scale, sumRows } from "../../src/ops/elementwise.ts";
import { backward } from "../../src/engine/tape.ts";
import { Tensor, tidy } from "../../src/engine/tensor.ts";
import { assertClose, dot, f64, finiteDiff, randn, setupGpu } from "../_util.ts";
import { assertEquals } from "../_assert.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";

await setupGpu();
const TOL = { atol: 1e-6, rtol: 1e-6 };

Deno.test("elementwise: add, mul, scale, fill match CPU at 257×129", async () => {
  await tidy(async () => {
    const n = 257 * 129;
    const a = randn(n, 1), b = randn(n, 2);
    const ta = Tensor.from(a, [257, 129]), tb = Tensor.from(b, [257, 129]);
    assertClose(await add(ta, tb).read(), a.map((x, i) => x + b[i]), TOL, "add");
    assertClose(await mul(ta, tb).read(), a.map((x, i) => Math.fround(x * b[i])), TOL, "mul");
    assertClose(await scale(ta, -0.5).read(), a.map((x) => -0.5 * x), TOL, "scale");
    assertClose(await fill([7, 13], 3.25).read(), new Float32Array(91).fill(3.25), TOL, "fill");
  });
});

Deno.test("elementwise: biasAdd and sumRows match CPU; backward equals finite differences", async () => {
  await tidy(async () => {
    const R = 37, C = 300;
    const x = randn(R * C, 3), b = randn(C, 4), w = randn(R * C, 5);
    const tx = Tensor.from(x, [R, C]), tb = Tensor.from(b, [C]);
    tx.requiresGrad = tb.requiresGrad = true;
    const y = biasAdd(tx, tb);
    const ref = new Float64Array(R * C).map((_, i) => x[i] + b[i % C]);
    assertClose(await y.read(), ref, TOL, "biasAdd");
    const sums = new Float64Array(C);
    for (let i = 0; i < R * C; i++) sums[i % C] += x[i];
    assertClose(await sumRows(tx).read(), sums, { atol: 1e-4, rtol: 1e-5 }, "sumRows");
    backward(y, Tensor.from(w, [R, C]));
    const loss = ([xx, bb]: Float64Array[]) => dot(xx.map((v, i) => v + bb[i % C]), w);
    const inputs = [f64(x), f64(b)];
    assertClose(await tb.grad!.read(), finiteDiff(loss, inputs, 1), { atol: 1e-4, rtol: 1e-4 }, "dbias");
    assertClose(
      await tx.grad!.read(),
      finiteDiff(loss, inputs, 0, 1e-5, [0, 5, 999]).map((v, i) => [0, 5, 999].includes(i) ? v : w[i]),
      { atol: 1e-4, rtol: 1e-4 },
      "dx",
    );
  });
});

Deno.test("elementwise: sumRows over vec4 rows in row chunks (one and several chunks) matches CPU", async () => {
  // cols % 4 == 0 takes sum_rows4_partial (+ sum_rows4_finish when rows > 16); other widths sum_rows.
  const shapes: [number, number][] = [[1, 4], [7, 36], [16, 772], [17, 772], [513, 260], [1000, 12], [37, 9]];
  const { labels } = await traceDispatches(async () => {
    let seed = 40;
    for (const [R, C] of shapes) {
      await tidy(async () => {
        const x = randn(R * C, seed++);
        const sums = new Float64Array(C);
        for (let i = 0; i < R * C; i++) sums[i % C] += x[i];
        const got = await sumRows(Tensor.from(x, [R, C])).read();
        assertClose(got, sums, { atol: 1e-5 * Math.sqrt(R), rtol: 1e-5 }, `sumRows ${R}×${C}`);
      });
    }
  });
  const count = (l: string) => labels.filter((x) => x === l).length;
  assertEquals(count("elementwise.sum_rows4_partial"), 6, labels.join());
  assertEquals(count("elementwise.sum_rows4_finish"), 3, labels.join()); // 17, 513 and 1000 rows
  assertEquals(count("elementwise.sum_rows"), 1, labels.join()); // 37×9
});

Deno.test("elementwise: sumRows of 130001 rows × 9 (past lavapipe's 65535 loop iterations) matches CPU", async () => {
  // Odd widths walk the rows serially; one launch sums at most 59968 rows, so this takes 3 (then 2 adds).
  const R = 130001, C = 9;
  const { labels } = await traceDispatches(() =>
    tidy(async () => {
      const x = randn(R * C, 77);
      const sums = new Float64Array(C);
      for (let i = 0; i < R * C; i++) sums[i % C] += x[i];
      const got = await sumRows(Tensor.from(x, [R, C])).read();
      assertClose(got, sums, { atol: 1e-5 * Math.sqrt(R), rtol: 1e-5 }, `sumRows ${R}×${C}`);
    })
  );
  assertEquals(labels.filter((l) => l === "elementwise.sum_rows").length, 3, labels.join());
});
