/**
 * The WGSL of the matmul kernel family: `kernels/matmul.wgsl` followed by GELU's math from
 * `kernels/gelu.wgsl` (mm_tex4's fused linear + GELU epilogue calls `norm_cdf4`, so the fused GELU is
 * gelu.forward's exactly). Every matmul pipeline is built from this one text.
 * @module
 */
import src from "../../kernels/matmul.wgsl" with { type: "text" };
import sgSrc from "../../kernels/matmul_subgroup.wgsl" with { type: "text" };
import { geluMathWgsl } from "./gelu.ts";

/** kernels/matmul.wgsl + the GELU math section of kernels/gelu.wgsl. */
export const MATMUL_WGSL: string = `${src}\n${geluMathWgsl()}`;

/**
 * The source of the subgroup entry point mm_sg4: `prefix` (the device's subgroup directive, see
 * `Gpu.subgroupWgsl`), {@link MATMUL_WGSL}, then `kernels/matmul_subgroup.wgsl`. Only compiled on devices
 * with subgroups, so the other matmul pipelines keep a source every device accepts.
 */
export function matmulSubgroupWgsl(prefix: string): string {
  return `${prefix}${MATMUL_WGSL}\n${sgSrc}`;
}
