#!/bin/bash
# The CUDA half of benchmarks/device_run.sh, shorter, for a second call in a lease: the CUDA
# tests, the CUDA benches of issue 4 (plus the f32-activation matvec for comparison), per-kernel
# times of one 8B decode step under Nsight Compute, and compute-sanitizer on the model tests.
# Prepared by benchmarks/device_prepare.sh like the full run.   bash benchmarks/device_run_cuda.sh
set -u
OUT=${OUT:-/tmp/ld-out}; LOG=/tmp/ld-logs; mkdir -p "$OUT" "$LOG"
ROOT=$PWD; BIN=$ROOT/.devbin
export LD_LIBRARY_PATH=$BIN:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export LLAMADESK_SHARED_DIR=$ROOT/.devshared LLAMADESK_CUDA_PLUGIN=$BIN/libllamadesk_cuda.so
SUMMARY=$LOG/summary.txt; : > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
say "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
for t in "$BIN"/test_cuda_*; do
  n=$(basename "$t"); timeout 240 "$t" --gtest_color=no > "$LOG/$n.log" 2>&1; rc=$?
  say "test $n: rc=$rc $(grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ tests?[,.]' "$LOG/$n.log" | tr '\n' ' ')"
  grep -E '^\[  FAILED  \]|rel error' "$LOG/$n.log" | head -20 | tee -a "$SUMMARY"
done
bench() {  # label synthetic-name args...
  local label=$1 name=$2; shift 2
  local line
  line=$(timeout 150 "$BIN/llamadesk-cli" bench --backend cuda --synthetic "$name" -r 2 --json "$@" 2>>"$LOG/bench.err")
  echo "$label $line" >> "$LOG/bench.jsonl"
  say "bench $label $name $*: $(echo "$line" | sed -E 's/.*"prompt_tps": ([0-9.]+), "gen_tps": ([0-9.]+), "gen_weight_gbps": ([0-9.]+).*/pp \1  tg \2 tok\/s  \3 GB\/s/')"
}
bench cuda llama-3.1-8b:q4_k_m -p 512 -n 128
bench cuda llama-3.1-8b:q4_0 -p 512 -n 128
bench cuda llama-3.2-1b:q4_0 -p 512 -n 128
bench cuda llama-3.1-8b:q4_k_m -p 0 -n 128 -d 4096
bench cuda-b512 llama-3.1-8b:q4_k_m -p 512 -n 0 -b 512
bench cuda-b512 llama-3.1-8b:q4_0 -p 512 -n 0 -b 512
bench cuda-b512 llama-3.2-1b:q4_0 -p 512 -n 0 -b 512
LLAMADESK_CUDA_GRAPH=0 bench cuda-nograph llama-3.1-8b:q4_k_m -p 0 -n 128
LLAMADESK_CUDA_MV_SPLIT=1 bench cuda-nosplit llama-3.1-8b:q4_k_m -p 0 -n 128
LLAMADESK_CUDA_MV_SPLIT=1 bench cuda-nosplit llama-3.2-1b:q4_0 -p 0 -n 128
# One decode step's kernels (eager launches: ncu times each kernel on its own).
if command -v ncu >/dev/null; then
  # Caches left warm (--cache-control none), as in a real decode step.
  LLAMADESK_CUDA_GRAPH=0 timeout 200 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum \
    --csv --page raw --launch-skip 400 --launch-count 330 "$BIN/llamadesk-cli" bench --backend cuda \
    --synthetic llama-3.1-8b:q4_k_m -p 0 -n 4 -r 1 > "$LOG/ncu.csv" 2> "$LOG/ncu.err"
  # And a 512-token prompt (after the untimed one-token warm-up step).
  timeout 200 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --page raw \
    --launch-skip 340 --launch-count 1100 "$BIN/llamadesk-cli" bench --backend cuda --synthetic llama-3.1-8b:q4_k_m \
    -p 512 -n 0 -r 1 -b 512 > "$LOG/ncu_prompt.csv" 2> "$LOG/ncu_prompt.err"
  for f in ncu ncu_prompt; do python3 - "$LOG/$f.csv" <<'PY' | tee -a "$SUMMARY"
import csv, re, sys, collections
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
h = rows[0]; ki = h.index("Kernel Name"); ti = h.index("gpu__time_duration.sum")
agg = collections.defaultdict(lambda: [0, 0.0])
for r in rows[2:]:
    try: t = float(r[ti].replace(",", ""))
    except ValueError: continue
    name = re.sub(r"\(.*", "", r[ki]); name = re.sub(r"ld::cuda::|\(anonymous namespace\)::", "", name)
    agg[name][0] += 1; agg[name][1] += t
total = sum(v[1] for v in agg.values())
print(f"{sys.argv[1].split('/')[-1]}: {sum(v[0] for v in agg.values())} kernels, {total/1000:.1f} us of kernel time")
for k, (n, t) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:14]:
    print(f"  {t/1000:9.1f} us {100*t/total:5.1f}%  {n:4d} x {t/n/1000:7.2f} us  {k[:90]}")
PY
  done
fi
# Where the big matvecs lose bandwidth: Nsight Compute's sections for a few of them.
if command -v ncu >/dev/null; then
  LLAMADESK_CUDA_GRAPH=0 timeout 150 ncu --clock-control none --section SpeedOfLight --section Occupancy \
    --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis -k regex:matvec_q8 \
    --launch-skip 200 --launch-count 4 "$BIN/llamadesk-cli" bench --backend cuda --synthetic llama-3.1-8b:q4_k_m \
    -p 0 -n 2 -r 1 > "$LOG/ncu_sections.txt" 2>&1
  grep -E "matvec_q8_kernel|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Issued Warp|No Eligible|Warp Cycles Per Issued|Registers Per|Block Limit" \
    "$LOG/ncu_sections.txt" | head -80 >> "$SUMMARY"
fi
if command -v compute-sanitizer >/dev/null; then
  timeout 150 compute-sanitizer --tool memcheck "$BIN/test_cuda_model" \
    --gtest_filter='CudaStories260K.Greedy*:Mixes/CudaSyntheticWide.*' > "$LOG/sanitizer.log" 2>&1
  say "compute-sanitizer memcheck: rc=$? $(grep -E 'ERROR SUMMARY' "$LOG/sanitizer.log" | head -1)"
fi
# Vulkan test binaries crashed at exit (SIGSEGV after PASSED) with the EGL ICD on the H200:
# the same test with that ICD and with the stock one, when the binaries and loader came along.
if [ -x "$BIN/test_vk_memory" ] && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
  echo '{"file_format_version":"1.0.0","ICD":{"library_path":"libEGL_nvidia.so.0","api_version":"1.3.0"}}' > /tmp/nv_icd.json
  VK_ICD_FILENAMES=/tmp/nv_icd.json timeout 60 "$BIN/test_vk_memory" > "$LOG/vk_egl.log" 2>&1
  say "vulkan test exit, EGL ICD: rc=$? $(grep -E '^\[  (PASSED|FAILED)' "$LOG/vk_egl.log" | head -1)"
  VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
    __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json \
    timeout 60 "$BIN/test_vk_memory" > "$LOG/vk_stock.log" 2>&1
  say "vulkan test exit, stock ICD: rc=$? $(grep -E '^\[  (PASSED|FAILED)|vkCreateInstance|no usable' "$LOG/vk_stock.log" | head -2 | tr '\n' ' ')"
fi
tar czf "$OUT/logs.tgz" -C /tmp ld-logs; cp "$SUMMARY" "$OUT/"
echo; echo "==== summary ===="; cat "$SUMMARY"
