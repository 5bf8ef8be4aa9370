/**
 * The library in a real headless Chromium tab (WebGPU on SwiftShader), started by the test and stopped by
 * PID: the bundle loads with no import map, its module graph reaches no `node:` module or `Deno` at import
 * time, the parity fixture's golden logits come out of `fromPretrained("<http url>")`, a few training
 * steps give the same losses and logits as the same run in Deno, and the Trainer writes its checkpoints
 * and final folder into the Origin Private File System, from which they reload with the same logits.
 */
import { assert, assertEquals } from "../_assert.ts";
import * as lib from "../../mod.ts";
import { bundleLibrary, launchChromium, serveStatic } from "./_chromium.ts";
import {
  type StoreScenarioResult,
  trainerScenario,
  trainerStoreScenario,
  trainScenario,
} from "./_scenario.ts";

const ROOT = new URL("../../", import.meta.url);
const FIXTURE = "tests/fixtures/bert-tiny-parity";
const STEPS = 3;

Deno.test("browser: the bundle loads without an import map and matches Deno's training run", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "webgpu-ner-browser-" });
  const started = performance.now();
  await bundleLibrary(`${tmp}/webgpu-ner.js`);
  const bundle = await Deno.readTextFile(`${tmp}/webgpu-ner.js`);
  // Static imports of node: modules would fail in a browser; only lazy import("node:…") calls remain.
  assert(!/^import[^;]*from\s*"node:/m.test(bundle), "the bundle statically imports a node: module");
  assert(!/from\s*"npm:/.test(bundle), "the bundle left an npm: import");
  assert(/kernels\/attention\.wgsl/.test(bundle), "kernels are inlined");
  const server = serveStatic(ROOT, {
    "/__test/index.html": "<!doctype html><meta charset=utf-8><title>webgpu-ner test</title><body></body>",
    "/__test/webgpu-ner.js": bundle,
  });
  const browser = await launchChromium();
  try {
    const page = browser.page;
    await page.navigate(`${server.origin}/__test/index.html`);
    await t.step("WebGPU adapter and an import of the bundle with no import map", async () => {
      const r = await page.evaluate<{ gpu: boolean; importMap: number; exports: string[]; deno: string }>(
        `(async () => {
          const m = await import("/__test/webgpu-ner.js");
          return { gpu: !!navigator.gpu, importMap: document.querySelectorAll('script[type=importmap]').length,
                   exports: Object.keys(m), deno: typeof globalThis.Deno };
        })()`,
      );
      assert(r.gpu, "navigator.gpu is missing in the tab");
      assertEquals(r.importMap, 0);
      assertEquals(r.deno, "undefined");
      // Same exports as mod.ts.
      assertEquals(r.exports.sort(), Object.keys(lib).sort());
    });

    await t.step("on SwiftShader the default attention path for D = 64 is the generic kernels", async () => {
      const r = await page.evaluate<{ arch: string; labels: string[] }>(`(async () => {
        const lib = await import("/__test/webgpu-ner.js");
        const gpu = await lib.initGpu();
        const q = lib.Tensor.from(new Float32Array(2 * 3 * 128).fill(0.01), [2, 3, 128]);
        const { labels } = await lib.traceDispatches(() => lib.tidy(() =>
          lib.readAll([lib.attention(q, q, q, null, 2)])));
        return { arch: gpu.adapterInfo.architecture, labels };
      })()`);
      const attn = r.labels.filter((l) => l.startsWith("attention."));
      assert(attn.length > 0, `no attention kernel ran: ${r.labels}`);
      if (/swiftshader/i.test(r.arch)) assert(attn.every((l) => !l.endsWith("64")), `ran ${attn}`);
    });

    await t.step(
      "matmul in the tab: SwiftShader keeps the texture path; the forced shared path agrees",
      async () => {
        const r = await page.evaluate<{ arch: string; auto: string[]; shared: string[]; diff: number }>(
          `(async () => {
        const lib = await import("/__test/webgpu-ner.js");
        const gpu = await lib.initGpu();
        const x = (n, s) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + s));
        const run = async (path) => {
          const before = lib.matmulPathSettings();
          lib.setMatmulPath(path);
          try {
            return await lib.traceDispatches(() => lib.tidy(async () => {
              const a = lib.Tensor.from(x(67 * 45, 1), [67, 45]), b = lib.Tensor.from(x(45 * 36, 2), [45, 36]);
              return (await lib.readAll([lib.matmul(a, b)]))[0];
            }));
          } finally {
            lib.setMatmulPath(before.path, before.textureLimit, before.textureBytes);
          }
        };
        const auto = await run("auto"), shared = await run("shared");
        let diff = 0;
        for (let i = 0; i < auto.result.length; i++) diff = Math.max(diff, Math.abs(auto.result[i] - shared.result[i]));
        const mm = (l) => l.filter((s) => s.startsWith("matmul.mm_"));
        return { arch: gpu.adapterInfo.architecture, auto: mm(auto.labels), shared: mm(shared.labels), diff };
      })()`,
        );
        assertEquals(r.shared, ["matmul.mm_shared4"]); // the kernel compiles and runs under Tint too
        if (/swiftshader/i.test(r.arch)) assertEquals(r.auto, ["matmul.mm_tex4"]);
        assert(r.diff <= 1e-4, `texture and shared paths differ by ${r.diff}`); // |C| ≤ 45, K = 45
      },
    );

    await t.step("writes through the seam in the tab: OpfsStore and the default MemoryStore", async () => {
      const r = await page.evaluate<{ opfs: number[]; list: string[]; mem: string; missing: string }>(
        `(async () => {
        const lib = await import("/__test/webgpu-ner.js");
        const opfs = new lib.OpfsStore();
        await opfs.writeFile("run/checkpoint-1/a.bin", new Uint8Array([1, 2, 3]));
        await lib.writeFileBytes("out/log.txt", "hello"); // no Deno: the MemoryStore
        let missing = "";
        try { await opfs.readFile("run/none"); } catch (e) { missing = e.name; }
        return { opfs: [...await opfs.readFile("run/checkpoint-1/a.bin")], list: await opfs.list("run"),
                 mem: await lib.readFileText("out/log.txt"), missing };
      })()`,
      );
      assertEquals(r, { opfs: [1, 2, 3], list: ["checkpoint-1"], mem: "hello", missing: "NotFound" });
    });

    const fixtureUrl = `${server.origin}/${FIXTURE}`;
    const inTab = await page.evaluate<Awaited<ReturnType<typeof trainScenario>>>(
      `(async () => { const lib = await import("/__test/webgpu-ner.js");
        return await (${trainScenario.toString()})(lib, ${JSON.stringify(fixtureUrl)}, ${STEPS}); })()`,
    );
    const inDeno = await trainScenario(lib, fixtureUrl, STEPS);

    await t.step("golden logits from fromPretrained(<http url>) in the tab", () => {
      assert(
        inTab.goldenLogitsMaxDiff <= 1e-5,
        `tab logits differ from golden by ${inTab.goldenLogitsMaxDiff}`,
      );
      assert(inTab.goldenLossDiff <= 1e-5, `tab loss differs from golden by ${inTab.goldenLossDiff}`);
      assert(
        inDeno.goldenLogitsMaxDiff <= 1e-5,
        `Deno logits differ from golden by ${inDeno.goldenLogitsMaxDiff}`,
      );
    });

    await t.step("a few training steps: tab losses and logits equal Deno's within 1e-5", () => {
      assertEquals(inTab.losses.length, STEPS);
      assert(inTab.losses[STEPS - 1] < inTab.losses[0], `loss did not decrease: ${inTab.losses}`);
      for (let s = 0; s < STEPS; s++) {
        const d = Math.abs(inTab.losses[s] - inDeno.losses[s]);
        assert(d <= 1e-5, `step ${s}: loss ${inTab.losses[s]} (tab) vs ${inDeno.losses[s]} (Deno)`);
      }
      assertEquals(inTab.logits.length, inDeno.logits.length);
      let worst = 0;
      for (let i = 0; i < inTab.logits.length; i++) {
        worst = Math.max(worst, Math.abs(inTab.logits[i] - inDeno.logits[i]));
      }
      assert(worst <= 1e-5, `logits after ${STEPS} steps differ by ${worst} (tab ${inTab.adapter})`);
    });
    await t.step(
      "the Trainer runs in the tab (no files, log and progress callbacks) as in Deno",
      async () => {
        const dataUrl = `${server.origin}/data`;
        const tab = await page.evaluate<Awaited<ReturnType<typeof trainerScenario>>>(
          `(async () => { const lib = await import("/__test/webgpu-ner.js");
          return await (${trainerScenario.toString()})(lib, ${JSON.stringify(fixtureUrl)}, ${
            JSON.stringify(dataUrl)
          }); })()`,
        );
        const deno = await trainerScenario(lib, fixtureUrl, dataUrl);
        assertEquals(tab.progressSteps, [1, 2, 3, 4]);
        assertEquals(tab.losses.length, 4);
        tab.losses.forEach((l, i) =>
          assert(Math.abs(l - deno.losses[i]) <= 1e-5, `step ${i + 1}: ${l} vs ${deno.losses[i]}`)
        );
      },
    );
    await t.step(
      "the Trainer checkpoints into an OpfsStore in the tab; the folders reload with the same logits",
      async () => {
        const dataUrl = `${server.origin}/data`;
        const tab = await page.evaluate<StoreScenarioResult>(
          `(async () => { const lib = await import("/__test/webgpu-ner.js");
          return await (${trainerStoreScenario.toString()})(lib, ${JSON.stringify(fixtureUrl)}, ${
            JSON.stringify(dataUrl)
          }, "opfs"); })()`,
        );
        const deno = await trainerStoreScenario(lib, fixtureUrl, dataUrl, "memory");
        for (const f of ["model.safetensors", "optimizer.safetensors", "scheduler.json", "rng_state.json"]) {
          assert(tab.files.includes(`checkpoint-4/${f}`), `no checkpoint-4/${f} in ${tab.files}`);
        }
        for (
          const f of ["config.json", "model.safetensors", "tokenizer.json", "train_log.jsonl", "README.md"]
        ) {
          assert(tab.files.includes(f), `no final ${f} in ${tab.files}`);
        }
        assert(!tab.files.some((f) => f.startsWith("checkpoint-2/")), "checkpoint-2 was not rotated away");
        assertEquals(tab.files, deno.files); // the same file set as the run in Deno
        assert(!tab.entries.some((e) => /\.tmp-|\.commit$/.test(e)), `staging left: ${tab.entries}`);
        assertEquals(tab.losses.length, 4);
        tab.losses.forEach((l, i) =>
          assert(Math.abs(l - deno.losses[i]) <= 1e-5, `step ${i + 1}: ${l} vs ${deno.losses[i]}`)
        );
        assert(tab.finalDiff <= 1e-6, `final folder reloaded from OPFS: logits differ by ${tab.finalDiff}`);
        assert(tab.checkpointDiff <= 1e-6, `checkpoint-4 reloaded: logits differ by ${tab.checkpointDiff}`);
        assertEquals(tab.defaultStoreFiles, deno.defaultStoreFiles);
        assert(tab.defaultStoreDiff <= 1e-6, `default-store save reloaded: ${tab.defaultStoreDiff}`);
        const recovered = { handled: 2, entries: ["dir"], files: ["a.txt", "b.txt"], b: "new b" };
        assertEquals(tab.recovered, recovered); // OPFS: a commit cut by a closed page is finished
        assertEquals(deno.recovered, recovered);
      },
    );
    console.log(
      `browser: ${inTab.adapter}; golden diff ${inTab.goldenLogitsMaxDiff.toExponential(2)}; ` +
        `losses ${inTab.losses.map((x) => x.toFixed(5)).join(" ")}; ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s`,
    );
  } catch (e) {
    console.error(browser.page.console.slice(-20).join("\n"));
    throw e;
  } finally {
    await browser.close();
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
