// The SIGINT handler's rules with an injected clock: the first signal requests a stop, a repeat within
// one second (the same keypress delivered twice under deno task) is ignored, a later one aborts.
import { assertEquals } from "../_assert.ts";
import { SAME_KEYPRESS_MS, SIGINT_EXIT_CODE, sigintHandler } from "../../src/train/interrupt.ts";

Deno.test("sigint: stop on the first signal, ignore a repeat within 1 s, abort on a later one", () => {
  let t = 0, stops = 0, aborts = 0;
  const lines: string[] = [];
  const h = sigintHandler(() => stops++, { now: () => t, abort: () => aborts++, log: (l) => lines.push(l) });
  h();
  t = SAME_KEYPRESS_MS - 1;
  h();
  assertEquals([stops, aborts], [1, 0]);
  t = SAME_KEYPRESS_MS + 5;
  h();
  assertEquals([stops, aborts], [1, 1]);
  assertEquals(lines.length, 2);
  assertEquals(SIGINT_EXIT_CODE, 130);
});
