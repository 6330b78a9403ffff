#!/bin/bash
# The Vulkan backend on the lent GPU: its tests (with exit codes, and in the variants the switches
# below select), then decode and prompt with each open switch against the default and against
# the code before this session's changes (.devbin/base, built by device_prepare.sh with BASE=),
# the other models, and GPU timestamps. About 4 minutes on an H100. Prepare here with
#   VULKAN_ONLY=1 BASE=<commit> bash benchmarks/device_prepare.sh     (about 60 of the 64 MiB a call carries)
# and carry .devbin.tar.xz, .devshared and .gl.
#   bash benchmarks/device_run_vulkan.sh [quick|offload]
# `offload` (about 2 minutes): only the weights-in-system-memory test and 8B Q4_K_M with 16 and 0
# of its 32 layers' weights in GPU memory.
set -u
. benchmarks/device_lib.sh
vulkan_setup
gpu_summary
timeout 60 "$BIN/llamadesk-cli" devices 2>&1 | tee "$LOG/devices.txt" | grep vulkan | tee -a "$SUMMARY"
if [ "${1:-}" = offload ]; then
  run_tests "$BIN"/test_vk_offload
  M=llama-3.1-8b:q4_k_m
  bench vulkan all $M -p 512 -n 32
  bench vulkan gpu-layers-16 $M -p 512 -n 16 --gpu-layers 16
  bench vulkan gpu-layers-0 $M -p 512 -n 8 --gpu-layers 0
  finish
  exit 0
fi
run_tests "$BIN"/test_vk_*  # test_vk_matmul_wide and test_vk_ops run the real tensor-core kernels
TAG=unroll2 LLAMADESK_VK_MATVEC_UNROLL=2 run_tests "$BIN"/test_vk_q8

M=llama-3.1-8b:q4_k_m
BASE_CLI=$BIN/base/llamadesk-cli
# Decode: the default, then the int8 matvec with two slots per step (alone and with 128 threads).
bench vulkan decode $M -p 16 -n 128
LLAMADESK_VK_MATVEC_UNROLL=2 bench vulkan decode-unroll2 $M -p 16 -n 128
LLAMADESK_VK_MATVEC_UNROLL=2 LLAMADESK_VK_MATVEC_WG=128 bench vulkan decode-unroll2-wg128 $M -p 16 -n 128
# Prompt: the default (x converted to halves once per batch) and the base binary's 128-wide
# kernel. (Session 5's run also timed a register prefetch in that kernel and the kernel converting
# x per tile, both since removed: the script as of f7e19e2.)
bench vulkan prompt $M -p 512 -n 0
[ -x "$BASE_CLI" ] && LLAMADESK_VK_COOPMAT=wide CLI=$BASE_CLI bench vulkan base-prompt-wide $M -p 512 -n 0
if [ "${1:-}" != quick ]; then
  bench vulkan all llama-3.1-8b:q4_0 -p 512 -n 128
  bench vulkan all llama-3.2-1b:q4_0 -p 512 -n 128
  LLAMADESK_VK_MATVEC_UNROLL=2 bench vulkan decode-unroll2 llama-3.2-1b:q4_0 -p 16 -n 128
  bench vulkan decode-depth4096 $M -p 0 -n 128 -d 4096
  # Per-op GPU timestamps (vk_profiler.h), decode and prompt.
  LLAMADESK_VK_PROFILE=1 timeout 150 "$BIN/llamadesk-cli" bench --backend vulkan \
    --synthetic $M -p 512 -n 128 -r 1 > "$LOG/vk_profile.txt" 2>&1
  grep -E '^(decode|prompt):' "$LOG/vk_profile.txt" | tee -a "$SUMMARY"
  grep -E '^(decode|prompt) ' "$LOG/vk_profile.txt" | sort -k4 -t' ' | head -40 > "$LOG/vk_profile_ops.txt"
fi
finish
