// backward's onGradReady (the hook data-parallel all-reduce overlaps with): every leaf is reported once,
// only after its last contribution, and the order is deterministic.
import { assert, assertEquals } from "../_assert.ts";
import { setupGpu } from "../_util.ts";
import { backward } from "../../src/engine/tape.ts";
import { Tensor, tidy } from "../../src/engine/tensor.ts";
import { add, mul } from "../../src/ops/elementwise.ts";

await setupGpu();

function leaf(values: number[], name: string): Tensor {
  const t = Tensor.from(values, [values.length], "f32", name).keep();
  t.requiresGrad = true;
  return t;
}

Deno.test("backward onGradReady: each leaf once, after its final gradient; same order every time", async () => {
  const orders: string[][] = [];
  for (let run = 0; run < 2; run++) {
    const a = leaf([1, 2], "a"), b = leaf([3, -1], "b"), c = leaf([0.5, 4], "c");
    const reported: { name: string; grad: number[] }[] = [];
    const pending: Promise<void>[] = [];
    tidy(() => {
      // loss = sum((a*b + a) * c): a is read by two nodes, c by the last op only.
      const y = mul(add(mul(a, b), a), c);
      backward(y, Tensor.from([1, 1], [2]), {
        onGradReady: (t) => {
          const entry = { name: t.name, grad: [] as number[] };
          reported.push(entry);
          pending.push(t.grad!.readF32().then((g) => void (entry.grad = [...g])));
        },
      });
    });
    await Promise.all(pending);
    assertEquals(reported.map((r) => r.name).sort(), ["a", "b", "c"]);
    // The gradient read at report time is the final one.
    const byName = Object.fromEntries(reported.map((r) => [r.name, r.grad]));
    assertEquals(byName.a, [(3 + 1) * 0.5, (-1 + 1) * 4]); // c·(b + 1)
    assertEquals(byName.b, [1 * 0.5, 2 * 4]); // c·a
    assertEquals(byName.c, [1 * 3 + 1, 2 * -1 + 2]); // a·b + a
    assert(
      reported.findIndex((r) => r.name === "c") < reported.findIndex((r) => r.name === "a"),
      "c is final first",
    );
    orders.push(reported.map((r) => r.name));
    for (const t of [a, b, c]) {
      t.persistent = false;
      t.dispose();
    }
  }
  assertEquals(orders[0], orders[1]);
});
