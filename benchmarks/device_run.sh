#!/bin/bash
# One lease on the lent GPU machine (Ubuntu 24.04, CUDA 13, no Qt): everything the CUDA and Vulkan
# issues need measured there, in one call. Binaries are built on the Debian machine
# (benchmarks/device_prepare.sh) and carried in .devbin/, the reference models in .devshared/, the
# Vulkan loader in .gl/. Prints a short table last; the logs come back as $OUT/logs.tgz.
#   bash benchmarks/device_run.sh [quick]
set -u
OUT=${OUT:-/tmp/ld-out}; LOG=/tmp/ld-logs; mkdir -p "$OUT" "$LOG"
ROOT=$PWD; BIN=$ROOT/.devbin
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
# In the headless container the stock NVIDIA ICD (libGLX_nvidia) fails vkCreateInstance (-9);
# the EGL library carries the same Vulkan driver and works (seen on the H100, 2026-11-26).
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  echo '{"file_format_version":"1.0.0","ICD":{"library_path":"libEGL_nvidia.so.0","api_version":"1.3.0"}}' > /tmp/nv_icd.json
  export VK_ICD_FILENAMES=/tmp/nv_icd.json
fi
export LD_LIBRARY_PATH=$BIN:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export LLAMADESK_SHARED_DIR=$ROOT/.devshared LLAMADESK_CUDA_PLUGIN=$BIN/libllamadesk_cuda.so
SUMMARY=$LOG/summary.txt; : > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv,noheader | tee "$LOG/gpu.txt"
say "gpu: $(cat "$LOG/gpu.txt")"
[ -x "$BIN/cuda_copy_bw" ] && timeout 60 "$BIN/cuda_copy_bw" 2>&1 | tee "$LOG/copy_bw.txt" | tail -3
say "copy bw: $(tail -1 "$LOG/copy_bw.txt" 2>/dev/null)"
timeout 60 "$BIN/llamadesk-cli" devices 2>&1 | tee "$LOG/devices.txt"

# Tests: every CUDA and Vulkan test binary (they compare each op with the CPU backend).
run_tests() {  # label, binaries...
  local label=$1; shift
  for t in "$@"; do
    [ -x "$t" ] || continue
    local n; n=$(basename "$t")
    timeout 180 "$t" --gtest_color=no > "$LOG/$n.log" 2>&1; local rc=$?
    say "test $n: rc=$rc $(grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ tests?[,.]' "$LOG/$n.log" | tr '\n' ' ')"
    grep -E '^\[  FAILED  \]' "$LOG/$n.log" | head -5 | tee -a "$SUMMARY"
  done
}
run_tests cuda "$BIN"/test_cuda_*
run_tests vulkan "$BIN"/test_vk_*

bench() {  # backend synthetic-name extra-args...
  local be=$1 name=$2; shift 2
  local line
  line=$(timeout 150 "$BIN/llamadesk-cli" bench --backend "$be" --synthetic "$name" -r 2 --json "$@" 2>>"$LOG/bench.err")
  echo "$line" >> "$LOG/bench.jsonl"
  say "bench $be $name $*: $(echo "$line" | sed -E 's/.*"prompt_tps": ([0-9.]+), "gen_tps": ([0-9.]+), "gen_weight_gbps": ([0-9.]+).*/pp \1  tg \2 tok\/s  \3 GB\/s/')"
}
bench cuda llama-3.1-8b:q4_k_m -p 512 -n 128
bench cuda llama-3.1-8b:q4_0 -p 512 -n 128
bench cuda llama-3.2-1b:q4_0 -p 512 -n 128
bench cuda llama-3.1-8b:q4_k_m -p 0 -n 128 -d 4096
bench vulkan llama-3.1-8b:q4_k_m -p 512 -n 128
bench vulkan llama-3.1-8b:q4_0 -p 512 -n 128
bench vulkan llama-3.2-1b:q4_0 -p 512 -n 128
bench vulkan llama-3.1-8b:q4_k_m -p 0 -n 128 -d 4096
if [ "${1:-}" != quick ]; then
  LLAMADESK_VK_COOPMAT=0 bench vulkan llama-3.1-8b:q4_k_m -p 512 -n 0
  # Per-op GPU timestamps (inference/vulkan/vk_profiler): where a decode token's time goes.
  LLAMADESK_VK_PROFILE=1 timeout 150 "$BIN/llamadesk-cli" bench --backend vulkan \
    --synthetic llama-3.1-8b:q4_k_m -p 512 -n 128 -r 1 > "$LOG/vk_profile.txt" 2>&1
  grep -E '^(decode|prompt):' "$LOG/vk_profile.txt" | tee -a "$SUMMARY"
  if command -v compute-sanitizer >/dev/null && [ -x "$BIN/test_cuda_model" ]; then
    timeout 120 compute-sanitizer --tool memcheck --leak-check full "$BIN/test_cuda_model" \
      --gtest_filter='*Stories*' > "$LOG/sanitizer.log" 2>&1
    say "compute-sanitizer memcheck: rc=$? $(grep -E 'ERROR SUMMARY' "$LOG/sanitizer.log" | head -1)"
  fi
fi
tar czf "$OUT/logs.tgz" -C /tmp ld-logs; cp "$SUMMARY" "$OUT/"
echo; echo "==== summary ===="; cat "$SUMMARY"
