/**
 * This project against PyTorch, side by side in one sitting: alternates `bench/compare_webgpu.ts` and the
 * plain-PyTorch reference `bench/ref/bert_ref.py` per case and round (2 threads, OMP_WAIT_POLICY=PASSIVE),
 * then prints medians and ratios (this project ÷ PyTorch; higher is better). Cases: bert-base train step
 * 8×64, inference 32×64, the demo recipe's steps/s (batch 32 × 32 tokens), matmul A·B at the three BERT
 * shapes. Runs only when `python3 -c "import torch"` works (Debian: `apt-get install python3-torch
 * libopenblas0-pthread`; without OpenBLAS Debian's torch uses the reference BLAS, 40× slower). Each
 * measurement runs under `flock LOCK` when `--lock LOCK` is given (a machine shared with other jobs).
 *
 * The PyTorch side gets `OPENBLAS_CORETYPE` from the CPU's flags (see {@link openblasCoreType}).
 *
 *   deno run -A bench/compare_pytorch.ts [--rounds 3] [--cases train,infer,demo,matmul] [--lock /tmp/heavy.lock]
 *      [--python python3] [--json FILE] [--per-sync P]
 *
 * `--per-sync P`: matmul products per GPU sync on this project's side (default 32; see compare_webgpu.ts).
 * @module
 */

const CASES = ["train", "infer", "demo", "matmul"] as const;

function _opt(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
}

/**
 * OpenBLAS's kernel family for this CPU from /proc/cpuinfo's flags, or "" (leave OpenBLAS to detect it).
 * OpenBLAS detects by CPU model number, and a virtual machine's generic model ("Intel(R) Xeon(R)
 * Processor") makes it fall back to its SSE3 "Prescott" kernels: measured 41 GFLOP/s at 512×768·768×3072
 * where SkylakeX's AVX-512 kernels give 187 on the same two cores, which would flatter every ratio 4×.
 * `OPENBLAS_CORETYPE` set by the caller wins.
 */
export function openblasCoreType(cpuinfo: string): string {
  const flags = new Set(cpuinfo.match(/^flags\s*:(.*)$/m)?.[1].trim().split(/\s+/) ?? []);
  if (flags.has("avx512f") && flags.has("avx512vl") && flags.has("avx512bw")) return "SkylakeX";
  if (flags.has("avx2") && flags.has("fma")) return "Haswell";
  return "";
}

async function _coreType(): Promise<string> {
  const set = Deno.env.get("OPENBLAS_CORETYPE");
  if (set) return set;
  return openblasCoreType(await Deno.readTextFile("/proc/cpuinfo").catch(() => ""));
}

async function _run(
  cmd: string[],
  lock: string,
  extra: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const full = lock ? ["flock", lock, ...cmd] : cmd;
  const env = {
    OMP_WAIT_POLICY: "PASSIVE",
    OMP_NUM_THREADS: "2",
    XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
    ...extra,
  };
  const out = await new Deno.Command(full[0], { args: full.slice(1), env, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!out.success || !line) {
    throw new Error(`${cmd.join(" ")} failed: ${new TextDecoder().decode(out.stderr).slice(-800)}`);
  }
  return JSON.parse(line);
}

function _median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The metrics of one result: tokens/s, steps/s or GFLOP/s per matmul shape. */
function _metrics(r: Record<string, unknown>): Record<string, number> {
  if (r.case === "matmul") {
    return Object.fromEntries(
      (r.rows as { shape: string; gflops: number }[]).map((x) => [`matmul ${x.shape} GFLOP/s`, x.gflops]),
    );
  }
  if (r.case === "demo") return { "demo steps/s (32×32)": r.steps_per_s as number };
  return {
    [`${r.case === "train" ? "train step 8×64" : "inference 32×64"} tokens/s`]: r.tokens_per_s as number,
  };
}

async function main(args: string[]): Promise<void> {
  const python = _opt(args, "--python", "python3");
  const probe = await new Deno.Command(python, { args: ["-c", "import torch"], stderr: "null" }).output()
    .catch(() => null);
  if (!probe?.success) {
    console.error(`compare_pytorch: '${python} -c "import torch"' fails; install python3-torch (bench-only)`);
    Deno.exit(2);
  }
  const rounds = Number(_opt(args, "--rounds", "3"));
  const lock = _opt(args, "--lock", "");
  const cases = _opt(args, "--cases", CASES.join(",")).split(",");
  const perSync = args.includes("--per-sync") ? ["--per-sync", _opt(args, "--per-sync", "32")] : [];
  const here = new URL(".", import.meta.url).pathname;
  const core = await _coreType();
  const torchEnv: Record<string, string> = core ? { OPENBLAS_CORETYPE: core } : {};
  console.error(`PyTorch side: OPENBLAS_CORETYPE=${core || "(OpenBLAS's own detection)"}`);
  const ours = new Map<string, number[]>(), theirs = new Map<string, number[]>();
  const push = (m: Map<string, number[]>, r: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(_metrics(r))) m.set(k, [...(m.get(k) ?? []), v]);
  };
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      const a = await _run([Deno.execPath(), "run", "-A", `${here}compare_webgpu.ts`, c, ...perSync], lock);
      push(ours, a);
      const b = await _run([python, `${here}ref/bert_ref.py`, c, "--threads", "2"], lock, torchEnv);
      push(theirs, b);
      console.error(
        `round ${round + 1}/${rounds} ${c}: ${JSON.stringify(_metrics(a))} vs torch ${
          JSON.stringify(_metrics(b))
        }`,
      );
    }
  }
  console.log(`| metric (median of ${rounds}, alternating) | webgpu-ner | PyTorch | ratio |`);
  console.log("|---|---:|---:|---:|");
  const summary: Record<string, unknown>[] = [];
  for (const [k, xs] of ours) {
    const a = _median(xs), b = _median(theirs.get(k) ?? [NaN]);
    summary.push({ metric: k, webgpu: a, torch: b, ratio: a / b, runs: xs, torchRuns: theirs.get(k) });
    console.log(
      `| ${k} | ${a.toFixed(k.includes("steps") ? 2 : 1)} | ${b.toFixed(k.includes("steps") ? 2 : 1)} | ${
        (a / b).toFixed(2)
      }× |`,
    );
  }
  console.log(`(PyTorch with OPENBLAS_CORETYPE=${core || "auto"})`);
  const json = _opt(args, "--json", "");
  if (json) {
    await Deno.writeTextFile(
      json,
      JSON.stringify({ openblasCoreType: core || null, rows: summary }, null, 1),
    );
  }
}

if (import.meta.main) await main(Deno.args);
