// `deno task demo` exits non-zero when its pipeline step fails (it used to print "skipped" and exit 0),
// and 0 when it works; run on a tiny recipe so the test stays short.
import { assertEquals } from "../_assert.ts";
import { setupGpu } from "../_util.ts";
import { demo, demoPipeline } from "../../src/train/demo.ts";

await setupGpu();
const TINY = [
  "--hidden-size",
  "16",
  "--num-hidden-layers",
  "1",
  "--intermediate-size",
  "32",
  "--max-steps",
  "2",
  "--max-train-samples",
  "16",
  "--max-eval-samples",
  "8",
  "--eval-strategy",
  "no",
  "--logging-steps",
  "1",
];

Deno.test("demo: a failing pipeline step is a failed demo (exit 1); a working one exits 0", async () => {
  const dir = await Deno.makeTempDir();
  const quiet = console.error;
  console.error = () => {};
  try {
    const failing = await demo([...TINY, "--output-dir", dir], () => Promise.reject(new Error("boom")));
    const ok = await demo([...TINY, "--output-dir", dir], demoPipeline);
    assertEquals([failing, ok], [1, 0]);
  } finally {
    console.error = quiet;
    await Deno.remove(dir, { recursive: true });
  }
});
