// The Accelerator on one process (no MPI): identity collectives, HF's accumulate/backward semantics,
// prepared loaders and optimizer, main-process save/print. The 2-rank behaviour is in tests/dist/.
import { assert, assertEquals } from "../_assert.ts";
import { setupGpu } from "../_util.ts";
import { Accelerator, PreparedDataLoader, PreparedOptimizer } from "../../src/train/accelerator.ts";
import { BatchLoader } from "../../src/data/loader.ts";
import { AdamW } from "../../src/ops/adamw.ts";
import { crossEntropy } from "../../src/ops/cross_entropy.ts";
import { Tensor, tidy } from "../../src/engine/tensor.ts";

await setupGpu();

function param(): Tensor {
  const p = Tensor.from([0.1, -0.2, 0.3, 0.5, 0.0, -0.4], [2, 3], "f32", "p").keep();
  p.requiresGrad = true;
  return p;
}
const labels = () => Tensor.from([2, 0], [2], "i32", "labels");

Deno.test("accelerator: one process — rank 0 of 1, collectives are identities, loaders and optimizer wrapped", async () => {
  const acc = await Accelerator.create();
  assertEquals([acc.numProcesses, acc.processIndex, acc.isMainProcess, acc.group.backend], [
    1,
    0,
    true,
    "local",
  ]);
  const examples = Array.from(
    { length: 5 },
    (_, i) => ({ inputIds: [1, 2, 3].slice(0, 1 + (i % 3)), labels: [0, 1, 2].slice(0, 1 + (i % 3)) }),
  );
  const loader = new BatchLoader(examples, { batchSize: 2, padId: 0, shuffle: true, seed: 3 });
  const p = param();
  const opt = new AdamW([{ param: p, weightDecay: 0 }], { lr: 0.1 });
  const [model, prepared, dl] = await acc.prepare({ params: new Map([["p", p]]) }, opt, loader);
  assert(prepared instanceof PreparedOptimizer && dl instanceof PreparedDataLoader);
  assertEquals(model.params.get("p"), p);
  assertEquals(dl.batchIndices(1).map((b) => [...b]), loader.batchIndices(1).map((b) => [...b]));
  assertEquals(dl.length, 3);
  const x = { data: Int32Array.of(1, 2, 3, 4), shape: [2, 2] };
  assertEquals(await acc.gather(x), x);
  assertEquals(await acc.gatherForMetrics(x), x);
  assertEquals(await acc.padAcrossProcesses(x, { dim: 1, padIndex: -100 }), x);
  const t = await tidy(async () => [...await (await acc.gather(Tensor.from([1, 2], [2], "f32"))).read()]);
  assertEquals(t, [1, 2]);
  await acc.waitForEveryone();
  assertEquals(acc.unwrapModel(model), model);
  opt.dispose();
  p.persistent = false;
  p.dispose();
});

Deno.test("accelerator: accumulate() syncs every k micro-batches and at the end of the loader; backward divides by k; the optimizer steps only on sync", async () => {
  const p = param();
  const acc = new Accelerator({ gradientAccumulationSteps: 2 });
  const opt = new AdamW([{ param: p, weightDecay: 0 }], { lr: 0.1 });
  const examples = Array.from({ length: 6 }, () => ({ inputIds: [1], labels: [0] }));
  const [model, optimizer, loader] = await acc.prepare(
    { params: new Map([["p", p]]) },
    opt,
    new BatchLoader(examples, { batchSize: 2, padId: 0 }),
  );
  const ref = param();
  tidy(() => {
    const l = crossEntropy(ref, labels());
    return new Accelerator().backward(l);
  });
  const g1 = await ref.grad!.readF32();
  const syncs: boolean[] = [];
  const before = await p.readF32();
  let stepsTaken = 0;
  for (const _batch of loader.batches()) { // 3 batches: sync after 2, then at the end (1 batch)
    await acc.accumulate(model, async () => {
      await tidy(() => acc.backward(crossEntropy(p, labels())));
      syncs.push(acc.syncGradients);
      if (syncs.length === 1) {
        // k = 2: half the gradient of one backward
        const g = await p.grad!.readF32();
        g.forEach((v, i) => assert(Math.abs(v - g1[i] / 2) < 1e-7, `grad ${v} vs ${g1[i] / 2}`));
        optimizer.step(); // skipped: not a sync step
        assertEquals([...await p.readF32()], [...before]);
      } else {
        optimizer.step();
        stepsTaken++;
      }
      optimizer.zeroGrad();
    });
  }
  assertEquals(syncs, [false, true, true]);
  assertEquals(stepsTaken, 2);
  assertEquals(opt.stepCount, 2);
  for (const t of [p, ref]) {
    t.persistent = false;
    t.dispose();
  }
  opt.dispose();
});

Deno.test("accelerator: save writes atomically on the main process", async () => {
  const acc = new Accelerator();
  const dir = await Deno.makeTempDir();
  await acc.save("hello", `${dir}/a.txt`);
  assertEquals(await Deno.readTextFile(`${dir}/a.txt`), "hello");
  await Deno.remove(dir, { recursive: true });
});
