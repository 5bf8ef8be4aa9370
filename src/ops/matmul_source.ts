/**
 * The WGSL of the matmul kernel family: `kernels/matmul.wgsl` followed by GELU's math from
 * `kernels/gelu.wgsl` (mm_tex4's fused linear + GELU epilogue calls `norm_cdf4`, so the fused GELU is
 * gelu.forward's exactly). Every matmul pipeline is built from this one text.
 * @module
 */
import src from "../../kernels/matmul.wgsl" with { type: "text" };
import { geluMathWgsl } from "./gelu.ts";

/** kernels/matmul.wgsl + the GELU math section of kernels/gelu.wgsl. */
export const MATMUL_WGSL: string = `${src}\n${geluMathWgsl()}`;
