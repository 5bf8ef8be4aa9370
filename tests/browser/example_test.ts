/**
 * examples/browser in a real headless Chromium: the page trains a small BERT on a CoNLL-2003 slice
 * (progress bar, loss curve, seqeval table filled), then loads a model folder by URL and highlights the
 * entities of typed text; the highlighted spans (read from the DOM) equal the Deno pipeline's offsets,
 * labels and scores for the same model and text. A screenshot goes to the test's temp dir.
 */
import { assert, assertEquals } from "../_assert.ts";
import { pipeline } from "../../mod.ts";
import { bundleLibrary, type CdpPage, launchChromium, serveStatic } from "./_chromium.ts";

const ROOT = new URL("../../", import.meta.url);
const FIXTURE = "tests/fixtures/bert-tiny-parity";
const TEXT = "My name is Sylvain and I work at Hugging Face in Brooklyn.";

async function until(page: CdpPage, expr: string, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await page.evaluate<{ ok: boolean; error?: string }>(
      `({ ok: !!(${expr}), error: globalThis.nerExample?.error })`,
    );
    if (r.error) throw new Error(`the page failed while waiting for ${what}: ${r.error}`);
    if (r.ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("browser example: trains in the tab, then highlights typed text at the pipeline's offsets", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "webgpu-ner-example-" });
  await bundleLibrary(`${tmp}/webgpu-ner.js`);
  const server = serveStatic(ROOT, { "/dist/webgpu-ner.js": await Deno.readFile(`${tmp}/webgpu-ner.js`) });
  const browser = await launchChromium();
  const page = browser.page;
  try {
    await page.navigate(
      `${server.origin}/examples/browser/index.html?train=32&epochs=1&hidden=32&heads=4&layers=1&lr=0.001`,
    );
    await until(page, "globalThis.nerExample?.ready", "the page to load the bundle", 30_000);

    // Training in the tab: 32 sentences, batch 8 → 4 steps, one seqeval row.
    await page.evaluate(`document.getElementById("train").click()`);
    await until(page, "globalThis.nerExample.trained", "training in the tab");
    const t = await page.evaluate<{ value: number; max: number; points: number; rows: number; f1: number }>(
      `({
      value: document.getElementById("progress").value, max: document.getElementById("progress").max,
      points: document.getElementById("loss-line").getAttribute("points").trim().split(/\\s+/).length,
      rows: document.querySelectorAll("#epochs-table tr").length - 1, f1: nerExample.epochs[0].f1 })`,
    );
    assertEquals(t.max, 4);
    assertEquals(t.value, 4);
    assertEquals(t.points, 4);
    assertEquals(t.rows, 1);
    assert(Number.isFinite(t.f1) && t.f1 >= 0 && t.f1 <= 1, `f1 ${t.f1}`);

    // Load the fixture folder by URL, type the text, compute.
    await page.evaluate(
      `document.getElementById("model-url").value = ${JSON.stringify(`${server.origin}/${FIXTURE}/`)};
       document.getElementById("load").click()`,
    );
    await until(
      page,
      "globalThis.nerExample.loaded && !globalThis.nerExample.busy",
      "loading the folder by URL",
    );
    await page.evaluate(`(() => { const t = document.getElementById("text"); t.value = ""; t.focus(); })()`);
    await page.send("Input.insertText", { text: TEXT });
    await page.evaluate(`document.getElementById("compute").click()`);
    await until(page, "globalThis.nerExample.computed >= 1", "the pipeline in the tab");
    const marks = await page.evaluate<
      { start: number; end: number; label: string; score: number; text: string }[]
    >(
      `[...document.querySelectorAll("#output mark")].map((m) => ({ start: Number(m.dataset.start),
        end: Number(m.dataset.end), label: m.dataset.label, score: Number(m.dataset.score),
        text: m.firstChild.textContent }))`,
    );
    const typed = await page.evaluate<string>(`document.getElementById("text").value`);
    assertEquals(typed, TEXT);
    const ner = await pipeline("token-classification", { model: FIXTURE, aggregationStrategy: "simple" });
    let want;
    try {
      want = await ner.run(TEXT);
    } finally {
      ner.dispose();
    }
    assert(want.length > 0, "the Deno pipeline found no entity");
    assertEquals(marks.length, want.length);
    marks.forEach((m, i) => {
      assertEquals(
        [m.start, m.end, m.label],
        [want[i].start, want[i].end, want[i].entity_group],
        `entity ${i}`,
      );
      assertEquals(m.text, TEXT.slice(m.start, m.end));
      assert(Math.abs(m.score - want[i].score) <= 1e-5, `entity ${i}: score ${m.score} vs ${want[i].score}`);
    });
    await page.evaluate(`document.getElementById("output").scrollIntoView({ block: "center" })`);
    const png = await page.screenshot();
    await Deno.writeFile(`${tmp}/example.png`, png);
    assertEquals([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(""), "PNG");
    assert((await Deno.stat(`${tmp}/example.png`)).size > 10_000, "the screenshot is implausibly small");
    console.log(`screenshot: ${tmp}/example.png (${png.length} bytes)`);
  } catch (e) {
    console.error(page.console.slice(-20).join("\n"));
    throw e;
  } finally {
    await browser.close();
    await server.close();
    if (!Deno.env.get("WEBGPU_NER_KEEP_BROWSER_ARTIFACTS")) await Deno.remove(tmp, { recursive: true });
  }
});
