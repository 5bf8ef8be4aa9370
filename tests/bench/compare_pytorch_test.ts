import { assertEquals } from "../_assert.ts";
import { openblasCoreType } from "../../bench/compare_pytorch.ts";

Deno.test("compare_pytorch: OpenBLAS gets the kernel family the CPU's flags allow, not a VM's generic model", () => {
  const info = (flags: string) =>
    `processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: ${flags}\n`;
  assertEquals(
    openblasCoreType(info("fpu sse sse2 avx fma avx2 avx512f avx512dq avx512bw avx512vl")),
    "SkylakeX",
  );
  assertEquals(openblasCoreType(info("fpu sse sse2 avx fma avx2")), "Haswell");
  assertEquals(openblasCoreType(info("fpu sse sse2 avx")), "");
  assertEquals(openblasCoreType(""), "");
});
