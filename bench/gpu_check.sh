#!/usr/bin/env bash
# Device check for a real-GPU machine (Vulkan, e.g. NVIDIA) that has NO network: runs the test suite and
# the benches in under 8 minutes and prints one table.
#
#   On a machine with network, beside the repo:  bash bench/gpu_check.sh --pack /tmp/webgpu-ner-pack.tar
#     packs the repo, ../shared (fixtures, data), the Deno binary and a DENO_DIR holding every npm/remote
#     dependency (deno cache of mod.ts, src, tests, bench), so nothing is fetched on the device.
#   On the device, after unpacking:              bash repo/bench/gpu_check.sh [--quick]
#     uses ../deno/deno (or $DENO, or deno on PATH) and DENO_DIR=../deno_dir with --cached-only.
#
# Each step has its own timeout; the table shows step, status, seconds and the headline numbers.
set -u
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
if [[ "${1:-}" == "--pack" ]]; then
  out="${2:?usage: gpu_check.sh --pack OUT.tar}"
  stage="$(mktemp -d)"
  export DENO_DIR="$stage/deno_dir"
  deno cache mod.ts $(git ls-files 'src/*.ts' 'tests/*.ts' 'bench/*.ts') >/dev/null
  mkdir -p "$stage/deno" && cp "$(command -v deno)" "$stage/deno/deno"
  git archive --prefix=repo/ HEAD | tar -x -C "$stage"
  [[ -d ../shared ]] && cp -r ../shared "$stage/shared"
  tar -cf "$out" -C "$stage" .
  rm -rf "$stage"
  echo "packed $out (repo/, shared/, deno/deno, deno_dir/): unpack and run bash repo/bench/gpu_check.sh"
  exit 0
fi
DENO="${DENO:-}"
[[ -z "$DENO" && -x ../deno/deno ]] && DENO="$(cd .. && pwd)/deno/deno"
[[ -z "$DENO" ]] && DENO="$(command -v deno || true)"
[[ -z "$DENO" ]] && { echo "gpu_check: no deno binary (set DENO or pack one with --pack)"; exit 2; }
[[ -d ../deno_dir ]] && export DENO_DIR="$(cd .. && pwd)/deno_dir"
cached=(); [[ -n "${DENO_DIR:-}" ]] && cached=(--cached-only)
quick="${1:-}"
rows=()
step() { # name timeout_s command...
  local name="$1" limit="$2"; shift 2
  local t0=$SECONDS log; log="$(mktemp)"
  timeout "$limit" "$@" >"$log" 2>&1; local rc=$?
  local status=ok; [[ $rc -ne 0 ]] && status="FAIL($rc)"; [[ $rc -eq 124 ]] && status="TIMEOUT"
  local info; info="$(grep -E '^\{|passed|adapter' "$log" | tail -2 | tr '\n' ' ' | cut -c1-300)"
  rows+=("| $name | $status | $((SECONDS - t0)) | ${info} |")
  [[ $rc -ne 0 ]] && tail -20 "$log" | sed "s/^/[$name] /" >&2
  rm -f "$log"
}
step "adapter" 20 "$DENO" eval "const a = await navigator.gpu.requestAdapter(); console.log('adapter: ' + JSON.stringify({description: a.info.description, vendor: a.info.vendor, fallback: a.info.isFallbackAdapter, features: [...a.features]}))"
if [[ "$quick" != "--quick" ]]; then
  step "deno task test" 240 "$DENO" test -A --parallel=false "${cached[@]}"
fi
for c in train infer demo matmul; do
  step "bench $c" 40 "$DENO" run -A "${cached[@]}" bench/compare_webgpu.ts "$c"
done
# The matmul paths side by side at a BERT-base shape: the GPU-class kernel ("auto" here) and the texture one.
for p in shared texture; do
  step "matmul $p" 30 "$DENO" run -A "${cached[@]}" bench/matmul_bench.ts --report --path=$p --shape=512x768x768 --passes=2
done
# Host costs that dominate a small model on a fast GPU: bind-group reuse and the multi-tensor AdamW launches.
step "bind groups" 30 "$DENO" run -A "${cached[@]}" bench/bind_group_bench.ts
step "demo A/B multi-tensor AdamW" 60 "$DENO" run -A "${cached[@]}" bench/demo_ab_bench.ts multi --rounds 2
step "profile train step" 40 "$DENO" run -A "${cached[@]}" bench/compare_webgpu.ts train --iters 1 --profile
echo "| step | status | seconds | result |"
echo "|---|---|---:|---|"
printf '%s\n' "${rows[@]}"
