// serializeSafetensors with F32 data given as consecutive pieces (a row-chunked parameter read back chunk
// by chunk): the same bytes as the joined array; pieces that do not total the shape are refused.
import { assertEquals, assertThrows } from "../_assert.ts";
import {
  parseSafetensors,
  SafetensorsError,
  serializeSafetensors,
  toFloat32,
} from "../../src/io/safetensors.ts";

const whole = Float32Array.from({ length: 7 * 5 }, (_, i) => Math.sin(i) * 1e3);
const pieces = [whole.subarray(0, 15), whole.subarray(15, 15), whole.subarray(15, 30), whole.subarray(30)];
const other = { name: "b", dtype: "F32" as const, shape: [3], data: Float32Array.from([1, 2, 3]) };

Deno.test("safetensors pieces: written as the joined tensor, byte for byte", () => {
  const a = serializeSafetensors([{ name: "w", dtype: "F32", shape: [7, 5], data: whole }, other], {
    k: "v",
  });
  const b = serializeSafetensors([{ name: "w", dtype: "F32", shape: [7, 5], data: pieces }, other], {
    k: "v",
  });
  assertEquals(b, a);
  const t = parseSafetensors(b, "pieces").tensors.get("w")!;
  assertEquals(t.shape, [7, 5]);
  assertEquals([...toFloat32(t, "w")], [...whole]);
});

Deno.test("safetensors pieces: a wrong total, a non-F32 dtype or a non-Float32Array piece is refused", () => {
  const bad = (data: unknown, dtype = "F32") => () =>
    serializeSafetensors([{ name: "w", dtype, shape: [7, 5], data } as never]);
  assertThrows(bad(pieces.slice(1)), SafetensorsError, `tensor "w": pieces must be F32`);
  assertThrows(bad(pieces, "I32"), SafetensorsError, "pieces must be F32");
  assertThrows(bad([whole.subarray(0, 30), new Int32Array(5)]), SafetensorsError, "pieces must be F32");
});
