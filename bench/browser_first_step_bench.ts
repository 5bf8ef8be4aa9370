/**
 * First-step latency of a head-size-64 BERT in a headless Chromium tab (WebGPU on SwiftShader): the time
 * from navigation start to the end of the first training step (forward, backward, AdamW, loss read back),
 * with the D = 64 texture attention kernels forced (`setAttentionPath("texture")`, the path before issue
 * 12) and with the default (`"auto"`: the generic kernels on SwiftShader). Each run gets a fresh browser
 * and profile, so no shader cache helps.
 *
 *   deno run -A bench/browser_first_step_bench.ts [--report]
 *
 * Needs `chromium` (Debian's) on PATH. Measured 2026-12-02 (Chromium 156, SwiftShader, 2 cores), first step
 * since navigation start / second step:
 *   texture (before, D = 64 kernels attn_fwd64/attn_bwd_dq64/attn_bwd_dkv64): 56.6 s / 1.10 s
 *   auto    (after, generic attn_fwd/attn_bwd_dq/attn_bwd_dkv on SwiftShader): 12.3 s / 1.44 s
 * i.e. the first step starts 4.6x sooner for a 30% slower steady-state step on this adapter. Lavapipe in
 * Deno keeps the D = 64 kernels (tests/ops/attention_test.ts asserts which ran).
 * @module
 */
import { bundleLibrary, launchChromium, serveStatic } from "../tests/browser/_chromium.ts";

/** One training step of a 2-layer, 128-wide, 2-head (D = 64) BERT at B = 8, T = 64, timed in the page. */
// deno-lint-ignore no-explicit-any
export async function firstStep(lib: any, path: string): Promise<Record<string, number | string>> {
  await lib.initGpu();
  lib.setAttentionPath(path);
  const model = lib.BertForTokenClassification.random(lib.makeBertConfig({
    vocab_size: 1000,
    hidden_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 512,
    labels: ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"],
  }));
  const B = 8, T = 64;
  const ids = new Int32Array(B * T).map((_, i) => (i * 7919) % 1000);
  const labels = new Int32Array(B * T).map((_, i) => i % 9);
  const batch = { batch: B, seqLen: T, inputIds: ids, attentionMask: new Int32Array(B * T).fill(1), labels };
  const opt = new lib.AdamW(model.namedParameters().map(([, param]: [string, unknown]) => ({ param })), {
    lr: 1e-3,
  });
  const step = () =>
    lib.tidy(async () => {
      const out = model.forward(batch);
      lib.backward(out.loss);
      const [loss] = await lib.readAll([out.loss]);
      opt.step();
      opt.zeroGrad();
      return loss[0];
    });
  const t0 = performance.now();
  const { labels: kernels } = await lib.traceDispatches(step);
  const first = performance.now();
  await step();
  const second = performance.now() - first;
  return {
    path,
    firstStepSinceNavigationMs: Math.round(first),
    firstStepMs: Math.round(first - t0),
    secondStepMs: Math.round(second),
    attention: [...new Set(kernels.filter((k: string) => k.startsWith("attention.")))].join(" "),
  };
}

if (import.meta.main) {
  const tmp = await Deno.makeTempDir({ prefix: "webgpu-ner-bench-" });
  await bundleLibrary(`${tmp}/webgpu-ner.js`);
  const server = serveStatic(new URL("../", import.meta.url), {
    "/__bench/index.html": "<!doctype html><meta charset=utf-8><title>bench</title>",
    "/__bench/webgpu-ner.js": await Deno.readFile(`${tmp}/webgpu-ner.js`),
  });
  try {
    for (const path of ["texture", "auto"]) {
      const browser = await launchChromium();
      try {
        await browser.page.navigate(`${server.origin}/__bench/index.html`);
        const r = await browser.page.evaluate(
          `(async () => { const lib = await import("/__bench/webgpu-ner.js");
          return await (${firstStep.toString()})(lib, ${JSON.stringify(path)}); })()`,
        );
        console.log(JSON.stringify(r));
      } finally {
        await browser.close();
      }
    }
  } finally {
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
}
