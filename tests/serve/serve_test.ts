/**
 * `deno task serve` on a fixture model, as a real process on 127.0.0.1: the Inference API's answers equal
 * `deno task predict`'s for the same model, text and strategy; bad requests get a 4xx JSON error; 20
 * concurrent requests all get the right answer; the server stays up and stops cleanly on SIGINT.
 */
import { assert, assertEquals } from "../_assert.ts";

const ROOT = new URL("../../", import.meta.url);
const MODEL = "tests/fixtures/bert-tiny-parity";
const COURSE = "My name is Sylvain and I work at Hugging Face in Brooklyn.";
const BATCH = [COURSE, "Angela Merkel visited Paris with the European Union.", "Nothing here."];

async function predict(texts: string[], strategy: string): Promise<unknown[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "predict", "--model", MODEL, "--aggregation", strategy, ...texts],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, `predict failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("serve: Inference API answers equal predict's; bad requests are 4xx; concurrent requests; SIGINT", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "serve", "--model", MODEL, "--port", "0"],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  let origin = "";
  try {
    while (!origin) {
      const r = await reader.read();
      if (r.done) throw new Error(`serve exited before listening:\n${err}`);
      err += r.value;
      const m = /listening on (http:\/\/[^/\s]+)\//.exec(err);
      if (m) origin = m[1];
    }
    const post = (body: string | Uint8Array, path = "/") =>
      fetch(origin + path, {
        method: "POST",
        body: body as BodyInit,
        headers: { "content-type": "application/json" },
      });
    const [wantCourse, ...rest] = await predict(BATCH, "simple");
    const wantFirst = await predict([COURSE], "first");

    // The course sentence, a batch of three, another strategy, the /models/<name> route.
    let res = await post(JSON.stringify({ inputs: COURSE, parameters: { aggregation_strategy: "simple" } }));
    assertEquals(res.status, 200);
    const got = await res.json();
    assertEquals(got, wantCourse);
    assert(Array.isArray(got) && got.length > 0, "the fixture finds no entity in the course sentence");
    res = await post(JSON.stringify({ inputs: BATCH }));
    assertEquals(await res.json(), [wantCourse, ...rest]);
    res = await post(JSON.stringify({ inputs: COURSE, parameters: { aggregation_strategy: "first" } }));
    assertEquals(await res.json(), wantFirst[0]);
    res = await post(JSON.stringify({ inputs: COURSE }), "/models/bert-tiny-parity");
    assertEquals(await res.json(), wantCourse);

    // Bad requests: 4xx with a JSON error naming the problem.
    const bad: [string | Uint8Array, number, string, string?][] = [
      ["{not json", 400, "not valid JSON"],
      [JSON.stringify({ text: COURSE }), 400, 'missing "inputs"'],
      [JSON.stringify({ inputs: [1, 2] }), 400, '"inputs" must be'],
      [
        JSON.stringify({ inputs: "x", parameters: { aggregation_strategy: "mean" } }),
        400,
        "aggregation_strategy",
      ],
      [JSON.stringify({ inputs: "x".repeat(2_000_000) }), 413, "over the limit"],
      [JSON.stringify({ inputs: "x" }), 404, "not served here", "/models/other"],
    ];
    for (const [body, status, says, path] of bad) {
      const r = await post(body, path);
      assertEquals(r.status, status, `for ${String(body).slice(0, 40)}`);
      const e = await r.json();
      assert(typeof e.error === "string" && e.error.includes(says), `error "${e.error}" lacks "${says}"`);
    }

    // 20 concurrent requests, mixed single and batch: every answer right.
    const answers = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          post(JSON.stringify({ inputs: i % 2 ? BATCH[i % 3] : [BATCH[i % 3]] })).then(async (r) => {
            assertEquals(r.status, 200);
            return await r.json();
          }),
      ),
    );
    const want = [wantCourse, ...rest];
    answers.forEach((a, i) => assertEquals(a, i % 2 ? want[i % 3] : [want[i % 3]], `request ${i}`));

    // Still up; the page is the widget wired to POST /.
    const health = await (await fetch(`${origin}/health`)).json();
    assertEquals(health.status, "ok");
    const page = await (await fetch(`${origin}/`)).text();
    assert(
      page.includes("highlightHtml") && page.includes("aggregation_strategy"),
      "GET / is not the widget",
    );
  } finally {
    child.kill("SIGINT");
    const status = await child.status;
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true, value: "" }));
      if (r.done) break;
      err += r.value;
    }
    if (origin) {
      assertEquals(
        status.code,
        0,
        `serve did not exit cleanly (code ${status.code}, signal ${status.signal}):\n${err}`,
      );
      assert(err.includes("serve: stopped"), err);
    }
  }
});
