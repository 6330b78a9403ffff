#!/bin/bash
# The Vulkan backend on the lent GPU: its tests, then each decode and prompt change of session 4
# (2026-11-26, written without a GPU) against its switch and against the code before it, then GPU
# timestamps. About 6 minutes on an H200. Prepare here with
#   VULKAN_ONLY=1 BASE=bffd367 bash benchmarks/device_prepare.sh     (59 of the 64 MiB a call carries)
# and carry .devbin, .devshared and .gl.
#   bash benchmarks/device_run_vulkan.sh [quick]
set -u
. benchmarks/device_lib.sh
vulkan_setup
gpu_summary
timeout 60 "$BIN/llamadesk-cli" devices 2>&1 | tee "$LOG/devices.txt" | grep vulkan | tee -a "$SUMMARY"
# Exit codes matter too: every binary with a device crashed at exit (rc 139) on the H200 before
# the tests' device moved into gtest's environment teardown.
run_tests "$BIN"/test_vk_*  # test_vk_matmul_wide runs the real 128-wide-K kernel where coopmat exists
# The models end to end with the 128-wide-K prompt kernel (opt-in until this run says otherwise).
TAG=coopmat-wide LLAMADESK_VK_COOPMAT=wide run_tests "$BIN"/test_vk_model

M=llama-3.1-8b:q4_k_m
# Decode: all on, then one change off at a time; the last line is the code before session 4.
bench vulkan decode $M -p 16 -n 128
LLAMADESK_VK_SPECULATE=0 bench vulkan decode-no-record-ahead $M -p 16 -n 128
LLAMADESK_VK_FUSE_ROPE=0 bench vulkan decode-rope-pass $M -p 16 -n 128
LLAMADESK_VK_Q8=0 bench vulkan decode-f32-activations $M -p 16 -n 128
LLAMADESK_VK_DECODE=classic LLAMADESK_VK_Q8=0 LLAMADESK_VK_SPECULATE=0 bench vulkan decode-classic $M -p 16 -n 128
bench vulkan decode-depth4096 $M -p 0 -n 128 -d 4096
# The code before session 4 (device_prepare.sh with BASE=bffd367): its old attention kernels have
# no switch in the new code.
if [ -x "$BIN/base/llamadesk-cli" ]; then
  CLI=$BIN/base/llamadesk-cli bench vulkan base-decode $M -p 16 -n 128
  CLI=$BIN/base/llamadesk-cli bench vulkan base-depth4096 $M -p 0 -n 128 -d 4096
  CLI=$BIN/base/llamadesk-cli bench vulkan base-prompt $M -p 512 -n 0 -b 512
fi
# Prompt: the old tensor-core kernel (default) against the 128-wide-K one, batches of 256 and 512.
bench vulkan prompt $M -p 512 -n 0
LLAMADESK_VK_COOPMAT=wide bench vulkan prompt-wide $M -p 512 -n 0
LLAMADESK_VK_COOPMAT=wide bench vulkan prompt-wide-b512 $M -p 512 -n 0 -b 512
if [ "${1:-}" != quick ]; then
  for m in llama-3.1-8b:q4_0 llama-3.2-1b:q4_0; do
    bench vulkan all $m -p 512 -n 128
    LLAMADESK_VK_COOPMAT=wide bench vulkan prompt-wide $m -p 512 -n 0 -b 512
  done
  # Per-op GPU timestamps (vk_profiler.h): decode with everything on, prompt with the wide kernel.
  LLAMADESK_VK_PROFILE=1 LLAMADESK_VK_COOPMAT=wide timeout 150 "$BIN/llamadesk-cli" bench --backend vulkan \
    --synthetic $M -p 512 -n 128 -r 1 -b 512 > "$LOG/vk_profile.txt" 2>&1
  grep -E '^(decode|prompt):' "$LOG/vk_profile.txt" | tee -a "$SUMMARY"
  grep -E '^(decode|prompt) ' "$LOG/vk_profile.txt" | sort -k4 -t' ' | head -40 > "$LOG/vk_profile_ops.txt"
fi
finish
