/**
 * Weight-file reading speed: 64 MiB of f32 weights (one 4096×4096 matrix) read from model.safetensors,
 * from a torch zip pytorch_model.bin (CRC-checked, restricted pickle), and from a .bin whose storage is
 * column-major (a transposed view, as TensorFlow-converted checkpoints are) that must be materialised.
 * Run: `deno bench -A bench/checkpoint_bench.ts`.
 * @module
 */
import { parseSafetensors, serializeSafetensors, toFloat32 } from "../src/io/safetensors.ts";
import { parseTorchCheckpoint } from "../src/io/torch_checkpoint.ts";
import { weightToFloat32 } from "../src/io/weights.ts";
import { bytesOf, torchZip } from "../tests/io/_torch_util.ts";

const N = 4096;
const values = Float32Array.from({ length: N * N }, (_, i) => (i % 977) / 977 - 0.5);
const storage = { key: "0", type: "FloatStorage", numel: N * N };
const safetensors = serializeSafetensors([{ name: "w", dtype: "F32", shape: [N, N], data: values }]);
const zip = await torchZip(
  [{ key: "w", storage, offset: 0, size: [N, N], stride: [N, 1] }],
  new Map([["0", bytesOf(values)]]),
);
const transposed = await torchZip(
  [{ key: "w", storage, offset: 0, size: [N, N], stride: [1, N] }],
  new Map([["0", bytesOf(values)]]),
);

Deno.bench({
  name: "model.safetensors, 64 MiB f32",
  group: "read",
  baseline: true,
  n: 10,
  fn() {
    toFloat32(parseSafetensors(safetensors, "bench").tensors.get("w")!);
  },
});

Deno.bench({
  name: "pytorch_model.bin (zip), 64 MiB f32",
  group: "read",
  n: 10,
  async fn() {
    weightToFloat32((await parseTorchCheckpoint(zip, "bench")).tensors.get("w")!, "w");
  },
});

Deno.bench({
  name: "pytorch_model.bin (zip), 64 MiB f32, transposed view",
  group: "read",
  n: 10,
  async fn() {
    weightToFloat32((await parseTorchCheckpoint(transposed, "bench")).tensors.get("w")!, "w");
  },
});
