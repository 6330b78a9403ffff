# Shared by the device scripts (device_run.sh, device_run_cuda.sh, device_run_vulkan.sh): where
# things are on the lent GPU machine, the summary, the Vulkan loader and ICD, tests and benches.
# Source it from the repository root: `. benchmarks/device_lib.sh`.
OUT=${OUT:-/tmp/ld-out}; LOG=/tmp/ld-logs; mkdir -p "$OUT" "$LOG"
ROOT=$PWD; BIN=$ROOT/.devbin
# device_prepare.sh packs the binaries (the carry's 64 MiB): unpacked once per archive carried.
if [ -f .devbin.tar.xz ] && [ ! .devbin/.from-archive -nt .devbin.tar.xz ]; then
  rm -rf .devbin && tar -xJf .devbin.tar.xz && touch .devbin/.from-archive
fi
export LD_LIBRARY_PATH=$BIN:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
# The plugin's test build (device_prepare.sh): the CUDA tests need its one-op entry point.
export LLAMADESK_SHARED_DIR=$ROOT/.devshared LLAMADESK_CUDA_PLUGIN=$BIN/libllamadesk_cuda_test.so
SUMMARY=$LOG/summary.txt; : > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

# The Vulkan loader from .gl/ (the device has none) and, in the headless container, the EGL ICD:
# the stock one (libGLX_nvidia) fails vkCreateInstance (-9) there (H100 and H200, 2026-11-26).
vulkan_setup() {
  for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done; ldconfig
  if [ -z "${VK_ICD_FILENAMES:-}" ]; then
    echo '{"file_format_version":"1.0.0","ICD":{"library_path":"libEGL_nvidia.so.0","api_version":"1.3.0"}}' > /tmp/nv_icd.json
    export VK_ICD_FILENAMES=/tmp/nv_icd.json
  fi
}

gpu_summary() {
  command -v nvidia-smi >/dev/null &&
    say "gpu: $(nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv,noheader)"
  [ -x "$BIN/cuda_copy_bw" ] && say "copy bw: $(timeout 60 "$BIN/cuda_copy_bw" 2>&1 | tail -1)"
  return 0
}

run_tests() {  # binaries...: each test binary's gtest totals and first failures, with its exit code; TAG= a log suffix
  for t in "$@"; do
    [ -x "$t" ] || continue
    local n; n=$(basename "$t")${TAG:+-$TAG}
    timeout 240 "$t" --gtest_color=no > "$LOG/$n.log" 2>&1; local rc=$?
    say "test $n: rc=$rc $(grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ tests?[,.]' "$LOG/$n.log" | tr '\n' ' ')"
    grep -E '^\[  FAILED  \]|rel error' "$LOG/$n.log" | head -20 | tee -a "$SUMMARY"
  done
}

bench() {  # backend label synthetic-name cli-args...: one `llamadesk-cli bench --json` line (-r 2); CLI= another binary, BENCH_TIMEOUT= seconds (150)
  local be=$1 label=$2 name=$3; shift 3
  local line
  line=$(timeout "${BENCH_TIMEOUT:-150}" "${CLI:-$BIN/llamadesk-cli}" bench --backend "$be" --synthetic "$name" -r 2 --json "$@" 2>>"$LOG/bench.err")
  echo "$label $line" >> "$LOG/bench.jsonl"
  say "bench $label $name $*: $(echo "$line" | sed -E 's/.*"prompt_tps": ([0-9.]+), "gen_tps": ([0-9.]+), "gen_weight_gbps": ([0-9.]+).*/pp \1  tg \2 tok\/s  \3 GB\/s/')"
}

finish() {  # logs back as $OUT/logs.tgz, the summary last on stdout
  tar czf "$OUT/logs.tgz" -C /tmp ld-logs; cp "$SUMMARY" "$OUT/"
  echo; echo "==== summary ===="; cat "$SUMMARY"
}
