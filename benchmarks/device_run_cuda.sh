#!/bin/bash
# The CUDA half of benchmarks/device_run.sh, shorter, for a second call in a lease: the CUDA
# tests (test_cuda_paged among them), the CUDA benches of issue 4 (plus the matvec without
# split-K for comparison), per-kernel times of one 8B decode step under Nsight Compute, and
# compute-sanitizer on the model tests and the paged step.
# Prepared by benchmarks/device_prepare.sh like the full run.   bash benchmarks/device_run_cuda.sh
# FUSED_ONLY=1: only the int8-epilogue variant (LLAMADESK_CUDA_FUSED_Q8, off by default until
# measured; benchmarks/cuda.md): its tests with the knob on, decode A/B on the same warm card, and
# one fused 8B step's kernels under Nsight Compute (7 benches, estimated 4-6 minutes); then stops.
set -u
. benchmarks/device_lib.sh
gpu_summary
ncu_summary() {  # ncu CSV: kernels and their time, the 14 costliest by name, into the summary
  python3 - "$1" <<'PY' | tee -a "$SUMMARY"
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
}
fused_ab() {
  # The chains' own tests (always fused) and the model tests with every decode step fused.
  GTEST_FILTER='Types/*FusedInt8*' TAG=fused run_tests "$BIN"/test_cuda_ops
  LLAMADESK_CUDA_FUSED_Q8=2 GTEST_FILTER='Mixes/*:CudaFusedQ8.*:CudaStories260K.*:CudaBackend.LongPrompt*' \
    TAG=fused2 run_tests "$BIN"/test_cuda_model
  # Off / SwiGLU only / norms too, alternating so drift shows (calls differ ~3% on the same code).
  for v in 0 1 2 0 2; do
    LLAMADESK_CUDA_FUSED_Q8=$v bench cuda cuda-fused$v llama-3.1-8b:q4_k_m -p 0 -n 128
  done
  # 1B: almost all launch floor, where fewer launches should show most (8B Q4_0 left out for time).
  for v in 0 2; do LLAMADESK_CUDA_FUSED_Q8=$v bench cuda cuda-fused$v llama-3.2-1b:q4_0 -p 0 -n 128; done
  grep -h "int8 epilogues" "$LOG/bench.err" | sort | uniq -c | tee -a "$SUMMARY"
}
if [ -n "${FUSED_ONLY:-}" ]; then
  fused_ab
  if command -v ncu >/dev/null; then
    # One fused 8B step (~235 kernels instead of 330): what each kernel costs with its epilogue.
    LLAMADESK_CUDA_FUSED_Q8=2 LLAMADESK_CUDA_GRAPH=0 timeout 150 ncu --clock-control none --cache-control none \
      --metrics gpu__time_duration.sum --csv --page raw --launch-skip 300 --launch-count 234 "$BIN/llamadesk-cli" bench \
      --backend cuda --synthetic llama-3.1-8b:q4_k_m -p 0 -n 4 -r 1 > "$LOG/ncu_fused.csv" 2> "$LOG/ncu_fused.err"
    ncu_summary "$LOG/ncu_fused.csv"
  fi
  finish
  exit 0
fi
run_tests "$BIN"/test_cuda_*
bench cuda cuda llama-3.1-8b:q4_k_m -p 512 -n 128
bench cuda cuda llama-3.1-8b:q4_0 -p 512 -n 128
bench cuda cuda llama-3.2-1b:q4_0 -p 512 -n 128
bench cuda cuda llama-3.1-8b:q4_k_m -p 0 -n 128 -d 4096
bench cuda cuda-b512 llama-3.1-8b:q4_k_m -p 512 -n 0 -b 512
bench cuda cuda-b512 llama-3.1-8b:q4_0 -p 512 -n 0 -b 512
bench cuda cuda-b512 llama-3.2-1b:q4_0 -p 512 -n 0 -b 512
# The int8 epilogues on and off (the split-K off rows they replace were measured in call 5).
LLAMADESK_CUDA_FUSED_Q8=2 bench cuda cuda-fused2 llama-3.1-8b:q4_k_m -p 0 -n 128
bench cuda cuda-fused0 llama-3.1-8b:q4_k_m -p 0 -n 128
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
  for f in ncu ncu_prompt; do ncu_summary "$LOG/$f.csv"; done
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
  # The paged many-sequence step (block tables, slots, fork copies): test_cuda_paged.
  timeout 150 compute-sanitizer --tool memcheck "$BIN/test_cuda_paged" \
    --gtest_filter='CudaPaged.MixedBatchesMatchCpuStories260K:CudaPaged.Fork*' > "$LOG/sanitizer_paged.log" 2>&1
  say "compute-sanitizer memcheck, paged: rc=$? $(grep -E 'ERROR SUMMARY' "$LOG/sanitizer_paged.log" | head -1)"
fi
# Vulkan test binaries crashed at exit (SIGSEGV after PASSED) with the EGL ICD on the H200
# until their device moved into gtest's environment teardown: that ICD and the stock one.
if [ -x "$BIN/test_vk_memory" ] && ls .gl/*.deb >/dev/null 2>&1; then
  vulkan_setup
  timeout 60 "$BIN/test_vk_memory" > "$LOG/vk_egl.log" 2>&1
  say "vulkan test exit, EGL ICD: rc=$? $(grep -E '^\[  (PASSED|FAILED)' "$LOG/vk_egl.log" | head -1)"
  env -u VK_ICD_FILENAMES VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
    __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json \
    timeout 60 "$BIN/test_vk_memory" > "$LOG/vk_stock.log" 2>&1
  say "vulkan test exit, stock ICD: rc=$? $(grep -E '^\[  (PASSED|FAILED)|vkCreateInstance|no usable' "$LOG/vk_stock.log" | head -2 | tr '\n' ' ')"
fi
finish
