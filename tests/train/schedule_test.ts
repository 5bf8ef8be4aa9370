import { assertEquals } from "../_assert.ts";
import { learningRate, warmupStepsFor } from "../../src/train/schedule.ts";

Deno.test("schedule: linear with warmup follows get_linear_schedule_with_warmup", () => {
  const o = { lr: 1e-3, warmupSteps: 10, totalSteps: 110, type: "linear" as const };
  assertEquals(learningRate(0, o), 0);
  assertEquals(learningRate(5, o), 5e-4);
  assertEquals(learningRate(10, o), 1e-3);
  assertEquals(learningRate(60, o), 5e-4);
  assertEquals(learningRate(110, o), 0);
  assertEquals(learningRate(200, o), 0);
});

Deno.test("schedule: cosine and constant", () => {
  const o = { lr: 2, warmupSteps: 0, totalSteps: 100, type: "cosine" as const };
  assertEquals(learningRate(0, o), 2);
  assertEquals(Math.round(learningRate(50, o) * 1e12) / 1e12, 1);
  assertEquals(Math.round(learningRate(100, o) * 1e12) / 1e12, 0);
  assertEquals(learningRate(7, { ...o, type: "constant", warmupSteps: 10 }), 2);
  assertEquals(learningRate(5, { ...o, type: "constant_with_warmup", warmupSteps: 10 }), 1);
});

Deno.test("schedule: warmup ratio rounds up; explicit steps win", () => {
  assertEquals(warmupStepsFor(1000, 0, 0.1), 100);
  assertEquals(warmupStepsFor(1001, 0, 0.1), 101);
  assertEquals(warmupStepsFor(1000, 7, 0.1), 7);
});
