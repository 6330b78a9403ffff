#!/bin/bash
# One lease on the lent GPU machine (Ubuntu 24.04, CUDA 13, no Qt): everything the CUDA and Vulkan
# issues need measured there, in one call. Binaries are built on the Debian machine
# (benchmarks/device_prepare.sh) and carried in .devbin/, the reference models in .devshared/, the
# Vulkan loader in .gl/. Prints a short table last; the logs come back as $OUT/logs.tgz.
#   bash benchmarks/device_run.sh [quick]
set -u
. benchmarks/device_lib.sh
vulkan_setup
gpu_summary
timeout 60 "$BIN/llamadesk-cli" devices 2>&1 | tee "$LOG/devices.txt"

# Tests: every CUDA and Vulkan test binary (they compare each op with the CPU backend).
run_tests "$BIN"/test_cuda_* "$BIN"/test_vk_*
bench cuda cuda llama-3.1-8b:q4_k_m -p 512 -n 128
bench cuda cuda llama-3.1-8b:q4_0 -p 512 -n 128
bench cuda cuda llama-3.2-1b:q4_0 -p 512 -n 128
bench cuda cuda llama-3.1-8b:q4_k_m -p 0 -n 128 -d 4096
LLAMADESK_CUDA_FUSED_Q8=2 bench cuda cuda-fused2 llama-3.1-8b:q4_k_m -p 512 -n 128  # int8 epilogues (cuda.md)
bench vulkan vulkan llama-3.1-8b:q4_k_m -p 512 -n 128
bench vulkan vulkan llama-3.1-8b:q4_0 -p 512 -n 128
bench vulkan vulkan llama-3.2-1b:q4_0 -p 512 -n 128
bench vulkan vulkan llama-3.1-8b:q4_k_m -p 0 -n 128 -d 4096
if [ "${1:-}" != quick ]; then
  LLAMADESK_VK_COOPMAT=0 bench vulkan vulkan llama-3.1-8b:q4_k_m -p 512 -n 0
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
finish
