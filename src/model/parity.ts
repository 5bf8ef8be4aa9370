/**
 * Parity against PyTorch golden values: load an HF model folder, run the golden batch through one forward,
 * backward and AdamW step (hyperparameters from `golden.json`, HF Trainer decay grouping), and compare
 * logits, loss, every gradient and every AdamW update.
 *
 * CLI: `deno task parity --model DIR --golden FILE` prints one JSON line and exits 0 only when logits and
 * loss are within 1e-5, every gradient within `1e-4·max|golden| + 1e-9` of its tensor, and every AdamW
 * update within 2e-5. Tensors golden.json lists as `analytically_zero_grad_tensors` (default: BERT-style
 * `attention.self.key.bias`) have fp32-noise golden gradients: they are compared with absolute tolerances
 * instead (|grad| diff ≤ 1e-6, update diff ≤ 2·lr) and left out of the worst-case figures. The few
 * `adamw_ill_conditioned_elements` (|grad| near eps) are allowed 10·`update_change_for_noise`, as the
 * fixture's guidance says, and left out of the worst-case update figure. 1-D weights (LayerNorm modules,
 * whatever their name) must match within `lr·wd·max|p|/4`, so a wrong decay grouping — which moves them by
 * only `lr·wd·|p|` — fails. `--matmul-path auto|texture|texture-pack|generic|shared` forces a GEMM
 * implementation (default auto: chosen from the adapter), so every path can be held to the same figures.
 *
 * `--fp16` runs the step as HF's `--fp16` (autocast: fp16 matmul inputs, fp32 accumulation; the loss
 * scaled by 2¹⁶ before backward and the gradients unscaled before AdamW; needs `shader-f16`, else one
 * line and exit 1) against the same fp32 golden values, with the tolerances of `PARITY_TOLERANCES.fp16`:
 * logits and loss within 5e-3 and 1e-3, every gradient within `1e-2·max|golden|` of its tensor (the
 * printed grad_worst_ratio is relative to that), analytically zero gradients within 1e-6, and AdamW
 * updates within 2e-5 except where the golden |grad| is nonzero and below `max(1e-2·max|golden|, 10·eps)`
 * — elements whose first-step update lr·g/(|g|+eps) fp16 rounding may flip — which are held to 2·lr and
 * counted as `fp16_small_grad_elements`. Worst measured on the ten fixtures (lavapipe): logits 1.1e-3,
 * loss 1.2e-4, gradients 1.9e-3·max|golden|, updates 2.3e-6.
 * @module
 */
import { AdamW } from "../ops/adamw.ts";
import { readSafetensors, toFloat32, toInt32 } from "../io/safetensors.ts";
import { backward } from "../engine/tape.ts";
import { initGpu } from "../engine/gpu.ts";
import { readAll, type Tensor, tidy } from "../engine/tensor.ts";
import { fromPretrained } from "./pretrained.ts";
import { checkpointParameters } from "./chunked.ts";
import { requireShaderF16, withAutocast } from "../ops/autocast.ts";
import { fill } from "../ops/elementwise.ts";
import { GradScaler } from "../train/grad_scaler.ts";
import { type MatmulPath, setMatmulPath } from "../ops/matmul.ts";

/** Values of the CLI's `--matmul-path` (forces a GEMM implementation; see setMatmulPath). */
const _MATMUL_PATHS: readonly MatmulPath[] = ["auto", "texture", "texture-pack", "generic", "shared"];

/** The parity report (the CLI prints exactly these keys) plus the pass verdict. */
export interface ParityResult {
  logits_max_abs: number;
  loss_abs: number;
  grad_worst_ratio: number;
  grad_worst_tensor: string;
  adamw_update_worst_abs: number;
  adamw_worst_tensor: string;
  tensors_compared: number;
  /** `fp16`: elements whose golden |grad| is within the fp16 gradient tolerance (updates held to 2·lr). */
  fp16_small_grad_elements?: number;
  /** True when every tolerance holds (not printed). */
  pass: boolean;
  /** Failure descriptions (not printed). */
  failures: string[];
}

interface _GoldenJson {
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  /** Tensors whose gradient is zero in theory (stored values are fp32 noise). */
  analytically_zero_grad_tensors?: string[];
  /** Elements whose |grad| is near eps, where AdamW amplifies fp32 noise (golden.json's guidance). */
  adamw_ill_conditioned_elements?: {
    elements: { tensor: string; index: number[]; update_change_for_noise: number }[];
  };
}

function _maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
}

function _maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Options of {@link runParity}. */
export interface ParityOptions {
  /**
   * Run the step as HF's `--fp16` does (autocast matmuls, the loss scaled by 2¹⁶ before backward and the
   * gradients unscaled before AdamW) and hold it to {@link PARITY_TOLERANCES}`.fp16`.
   */
  fp16?: boolean;
}

/** The limits a parity run is held to (see the module doc for how each is applied). */
export interface ParityTolerances {
  /** Largest |logit − golden|. */
  logits: number;
  /** |loss − golden|. */
  loss: number;
  /** Per tensor, largest |grad − golden| / max|golden grad| (the CLI's grad_worst_ratio is relative to it). */
  grad: number;
  /** Largest |AdamW update − golden update| per tensor. */
  update: number;
  /** Largest |grad − golden| of the analytically zero gradients. */
  zeroGrad: number;
}

/**
 * fp32: the figures of the module doc. fp16 (`--fp16`): set from the worst errors measured on the ten
 * tests/fixtures/*-parity fixtures with fp16 matmul inputs (README, "Mixed precision"), with margin.
 */
export const PARITY_TOLERANCES: { fp32: ParityTolerances; fp16: ParityTolerances } = {
  fp32: { logits: 1e-5, loss: 1e-5, grad: 1e-4, update: 2e-5, zeroGrad: 1e-6 },
  fp16: { logits: 5e-3, loss: 1e-3, grad: 1e-2, update: 2e-5, zeroGrad: 1e-6 },
};

/** Runs the parity check of a model folder against a golden safetensors file (golden.json beside it). */
export async function runParity(
  modelDir: string,
  goldenPath: string,
  opts: ParityOptions = {},
): Promise<ParityResult> {
  await initGpu();
  if (opts.fp16) requireShaderF16();
  const tol = opts.fp16 ? PARITY_TOLERANCES.fp16 : PARITY_TOLERANCES.fp32;
  const golden = await readSafetensors(goldenPath);
  const jsonPath = goldenPath.replace(/[^/]*$/, "golden.json");
  let meta: _GoldenJson;
  try {
    meta = JSON.parse(await Deno.readTextFile(jsonPath)) as _GoldenJson;
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "missing (it must sit beside the golden file)"
      : (e as Error).message;
    throw new Error(`${jsonPath}: ${why}`);
  }
  const g = (name: string) => {
    const t = golden.tensors.get(name);
    if (!t) throw new Error(`${goldenPath}: tensor '${name}' is missing`);
    return t;
  };
  const ids = g("input_ids");
  const [B, T] = ids.shape;
  const { model } = await fromPretrained(modelDir);
  // By checkpoint key; a row-chunked parameter is read back chunk by chunk and compared as one tensor.
  const grouped = checkpointParameters(model.params);
  const names = grouped.map((p) => p.key);
  const readJoined = async (of: (t: Tensor) => Tensor) => {
    const data = await readAll(grouped.flatMap((p) => p.parts.map(of)));
    let k = 0;
    return grouped.map((p) => {
      if (p.parts.length === 1) return data[k++] as Float32Array;
      const out = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
      for (let o = 0, j = 0; j < p.parts.length; j++) out.set(data[k], o), o += data[k++].length;
      return out;
    });
  };
  const before = await readJoined((t) => t);
  const failures: string[] = [];
  const opt = meta.optimizer;
  const illConditioned = meta.adamw_ill_conditioned_elements?.elements ?? [];

  const { logits, loss, grads } = await tidy(async () => {
    model.train();
    const out = withAutocast(() =>
      model.forward({
        batch: B,
        seqLen: T,
        inputIds: toInt32(ids, "input_ids"),
        attentionMask: toInt32(g("attention_mask"), "attention_mask"),
        labels: toInt32(g("labels"), "labels"),
      }), opts.fp16 ?? false);
    // fp16: GradScaler's step — the scaled loss's backward, then the gradients unscaled (and checked).
    const scaler = opts.fp16 ? new GradScaler() : null;
    backward(out.loss!, scaler ? fill([1], scaler.scale) : undefined);
    if (scaler && (await scaler.unscale(grouped.flatMap((p) => p.parts))).foundInf) {
      failures.push(`non-finite gradients at loss scale ${scaler.scale} (the step would be skipped)`);
    }
    const [logits, loss] = await readAll([out.logits, out.loss!]);
    const grads = await readJoined((t) => t.grad!);
    return { logits, loss, grads };
  });
  const adam = new AdamW(
    grouped.flatMap((p) =>
      p.parts.map((param) => ({ param, weightDecay: model.decays(p.key) ? opt.weight_decay : 0 }))
    ),
    { lr: opt.lr, betas: opt.betas, eps: opt.eps },
  );
  adam.step();
  const after = await readJoined((t) => t);

  const logitsMax = _maxAbsDiff(logits, toFloat32(g("logits")));
  const lossAbs = Math.abs(loss[0] - toFloat32(g("loss"))[0]);
  if (!(logitsMax <= tol.logits)) failures.push(`logits differ by ${logitsMax}`);
  if (!(lossAbs <= tol.loss)) failures.push(`loss differs by ${lossAbs}`);
  let gradWorst = 0, gradWorstName = "", updWorst = 0, updWorstName = "";
  let compared = 2, signSensitive = 0;
  names.forEach((name, i) => {
    const keyBias = meta.analytically_zero_grad_tensors?.includes(name) ??
      /attention\.self\.key\.bias$/.test(name);
    const gg = toFloat32(g(`grad.${name}`));
    const gd = _maxAbsDiff(grads[i], gg);
    const ratio = gd / (tol.grad * _maxAbs(gg) + 1e-9);
    const goldenAfter = toFloat32(g(`after_adamw.${name}`));
    const b = before[i];
    const upd = new Float64Array(b.length), gupd = new Float64Array(b.length);
    for (let j = 0; j < b.length; j++) {
      upd[j] = after[i][j] - b[j];
      gupd[j] = goldenAfter[j] - b[j];
    }
    // fp16: AdamW's first step is lr·g/(|g| + eps), so an element whose |golden grad| is within the fp16
    // gradient tolerance may flip sign (an update change of up to 2·lr), and one within 10·eps moves by
    // up to lr·(relative grad error)/(|g|/eps); those (nonzero) are held to 2·lr and left out of the
    // update figures, every other element to the fp32 limit.
    if (opts.fp16 && !keyBias) {
      const small = Math.max(tol.grad * _maxAbs(gg), 10 * opt.eps);
      for (let j = 0; j < b.length; j++) {
        if (gg[j] === 0 || Math.abs(gg[j]) > small) continue;
        const diff = Math.abs(upd[j] - gupd[j]);
        if (!(diff <= 2 * opt.lr * (1 + 1e-3))) {
          failures.push(`${name}[${j}]: AdamW update differs by ${diff} (small gradient, allowed 2·lr)`);
        }
        upd[j] = gupd[j] = 0;
        signSensitive++;
      }
    }
    // Ill-conditioned elements (|grad| ≈ eps) get golden.json's allowance, 10·update_change_for_noise.
    const shape = golden.tensors.get(`after_adamw.${name}`)!.shape;
    for (const el of illConditioned.filter((e) => e.tensor === name)) {
      const flat = el.index.reduce((acc, ix, d) => acc * shape[d] + ix, 0);
      const diff = Math.abs(upd[flat] - gupd[flat]);
      const allowed = Math.max(tol.update, 10 * el.update_change_for_noise);
      if (!(diff <= allowed)) {
        failures.push(
          `${name}[${el.index}]: AdamW update differs by ${diff} (ill-conditioned, allowed ${allowed})`,
        );
      }
      upd[flat] = gupd[flat] = 0;
    }
    const ud = _maxAbsDiff(upd, gupd);
    compared += 2;
    if (keyBias) {
      if (!(gd <= tol.zeroGrad)) {
        failures.push(`${name}: gradient differs by ${gd} (absolute tolerance ${tol.zeroGrad})`);
      }
      if (!(ud <= 2 * opt.lr)) failures.push(`${name}: update differs by ${ud} (absolute tolerance 2·lr)`);
      return;
    }
    if (!(ratio <= gradWorst)) [gradWorst, gradWorstName] = [ratio, name];
    if (!(ud <= updWorst)) [updWorst, updWorstName] = [ud, name];
    if (!(ratio <= 1)) failures.push(`${name}: gradient differs by ${gd} (ratio ${ratio})`);
    if (!(ud <= tol.update)) failures.push(`${name}: AdamW update differs by ${ud}`);
    // Decay grouping: a wrongly decayed LayerNorm weight moves by lr·wd·|p| (≈ 1e-5, under 2e-5), so
    // 1-D weights (norm modules under any name; judged by shape, not by the model's own grouping) are
    // held to a quarter of that.
    if (!name.endsWith(".bias") && shape.length === 1) {
      const tight = 0.25 * opt.lr * opt.weight_decay * _maxAbs(b);
      if (!(ud <= tight)) {
        failures.push(`${name}: AdamW update differs by ${ud} (> ${tight}: weight-decay grouping?)`);
      }
    }
  });
  model.dispose();
  adam.dispose?.();
  return {
    logits_max_abs: logitsMax,
    loss_abs: lossAbs,
    grad_worst_ratio: gradWorst,
    grad_worst_tensor: gradWorstName,
    adamw_update_worst_abs: updWorst,
    adamw_worst_tensor: updWorstName,
    tensors_compared: compared,
    ...(opts.fp16 ? { fp16_small_grad_elements: signSensitive } : {}),
    pass: failures.length === 0,
    failures,
  };
}

function _arg(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  if (i >= 0) return args[i + 1];
  const eq = args.find((a) => a.startsWith(flag + "="));
  return eq?.slice(flag.length + 1);
}

if (import.meta.main) {
  const args = Deno.args;
  const modelDir = _arg(args, "--model"), goldenPath = _arg(args, "--golden");
  if (!modelDir || !goldenPath || args.includes("--help")) {
    console.error(
      "usage: deno task parity --model DIR --golden FILE/golden.safetensors [--matmul-path PATH]",
    );
    Deno.exit(2);
  }
  const matmulPath = _arg(args, "--matmul-path");
  if (matmulPath !== undefined) {
    if (!_MATMUL_PATHS.includes(matmulPath as MatmulPath)) {
      console.error(`parity: --matmul-path '${matmulPath}' is not one of ${_MATMUL_PATHS.join(", ")}`);
      Deno.exit(2);
    }
    setMatmulPath(matmulPath as MatmulPath);
  }
  let r: ParityResult;
  try {
    r = await runParity(modelDir, goldenPath, { fp16: args.includes("--fp16") });
  } catch (e) {
    console.error(`parity: ${(e as Error).message}`); // one line: missing or wrong golden file, bad model
    Deno.exit(1);
  }
  const { pass, failures, ...report } = r;
  console.log(JSON.stringify(args.includes("--fp16") ? { ...report, fp16: true } : report));
  for (const f of failures) console.error(`parity: ${f}`);
  Deno.exit(pass ? 0 : 1);
}
