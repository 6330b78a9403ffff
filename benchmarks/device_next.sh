#!/bin/bash
# The FIRST call of the next lent GPU session: what issues 17 and 19 still lack, most valuable
# first, in one call of at most ~520 s (a 15-minute lease leaves time for one rerun). Sessions 6-9
# had no device; their GPU code has been tested only under lavapipe and the CUDA emulator.
#   1. every CUDA and Vulkan test binary, run together (the small-batch int8 kernels, paged
#      split-K, the int8 epilogues with LLAMADESK_CUDA_FUSED_Q8=2, speculative verification):
#      a fast path may become the default only after its own tests pass on a GPU;
#   2. CUDA decode 8B Q4_K_M / 8B Q4_0 / 1B Q4_0 with the unmeasured decode variants off and on
#      (issue 19's 70% goal): the int8 epilogues (LLAMADESK_CUDA_FUSED_Q8=2) and the matvec
#      variants (LLAMADESK_CUDA_MV_VARIANT=3: gate/up 4 rows a warp, Q6_K lean loads; cuda.md),
#      alone and together, the 8B prompt, and the copy bandwidth to divide by;
#   3. CUDA aggregate decode for 1-16 sequences (issue 17's 8 >= 6x goal) and the cost of
#      verifying k = 1, 2, 4, 8 drafts against one step (issue 19: k = 4 <= 1.3x);
#   4. the same two rows on Vulkan, and its 8B decode / prompt;
#   5. if time is left: 1B aggregate decode, the small-batch kernels off (what they replaced) and
#      4,096 positions. (The matvec variants' A/B took 1B's aggregate decode out of step 3.)
# The rest (split-K sweeps, reopen, 70B, ncu) is in device_run_parallel.sh, device_run_cuda.sh
# (FUSED_ONLY=1 for the epilogues' ncu step) and device_run_70b.sh, for a second call.
# Prepared here by benchmarks/device_prepare.sh (carry .devbin.tar.xz .devshared .gl), then on the device:
#   bash benchmarks/device_next.sh
# Dry run without a GPU (plumbing only; lavapipe numbers mean nothing):
#   VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json BIN=build/app/cli ONLY=vulkan \
#     BIG=../shared/models/k256/tiny-llama-k256-Q4_K_M.gguf ONE=../shared/models/k256/tiny-llama-k256-Q4_0-pure.gguf \
#     OUT=/tmp/ld-out bash benchmarks/device_next.sh
# (BIG, MID and ONE: model files or synthetic names in place of 8B Q4_K_M, 8B Q4_0 and 1B Q4_0.)
set -u
BIN_OVERRIDE=${BIN:-}
. benchmarks/device_lib.sh
[ -n "$BIN_OVERRIDE" ] && BIN=$(cd "$BIN_OVERRIDE" && pwd)
TBIN=${TESTBIN:-$BIN}  # the test binaries (all in .devbin on the device)
BUDGET=${BUDGET:-520}
left() { [ "$((BUDGET - SECONDS))" -ge "$1" ] || { say "skipped (time budget): ${*:2}"; return 1; }; }
want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
vulkan_setup
gpu_summary

# 1. Tests, all binaries at once (small kernels: they share the GPU without harm), each capped.
tests=()
want cuda && tests+=("$TBIN"/test_cuda_ops "$TBIN"/test_cuda_model "$TBIN"/test_cuda_paged "$TBIN"/test_cuda_speculative
                    "$TBIN"/test_cuda_kernels)
want vulkan && tests+=("$TBIN"/test_vk_small_batch "$TBIN"/test_vk_seq_batch "$TBIN"/test_vk_speculative "$TBIN"/test_vk_model)
for t in "${tests[@]}"; do
  [ -x "$t" ] && TAG=next run_tests "$t" > /dev/null &
done
want cuda && [ -x "$TBIN/test_cuda_model" ] &&
  LLAMADESK_CUDA_FUSED_Q8=2 GTEST_FILTER='Mixes/*:CudaStories260K.*:CudaBackend.LongPrompt*' \
    TAG=fused2 run_tests "$TBIN/test_cuda_model" > /dev/null &
# The matvec variants in the whole forward pass (with and without the epilogues) and in the ops.
want cuda && [ -x "$TBIN/test_cuda_model" ] &&
  LLAMADESK_CUDA_MV_VARIANT=3 GTEST_FILTER='Mixes/*:CudaStories260K.*:CudaFusedQ8.*' \
    TAG=mv3 run_tests "$TBIN/test_cuda_model" > /dev/null &
# (CPU comparisons only: the small-batch tests' column-equals-one-token check assumes the default
# kernel's split, which 4 rows a warp may change.)
want cuda && [ -x "$TBIN/test_cuda_ops" ] &&
  LLAMADESK_CUDA_MV_VARIANT=3 GTEST_FILTER='Types/*MatmulMatches*:Types/*MatmulAccumulates*:Types/*Fused*:Types/*Qkv*' \
    TAG=mv3 run_tests "$TBIN/test_cuda_ops" > /dev/null &
wait
say "tests done at ${SECONDS} s"

# The synthetic weights once, on the device's disk (each bench then loads them from the page cache).
SYN=/tmp/ld-next; mkdir -p "$SYN"
BIG=${BIG:-llama-3.1-8b:q4_k_m}; MID=${MID:-llama-3.1-8b:q4_0}; ONE=${ONE:-llama-3.2-1b:q4_0}
file_of() { if [ -f "$1" ]; then echo "$1"; else echo "$SYN/${1//[:.]/-}.gguf"; fi; }
for m in $BIG $MID $ONE; do
  f=$(file_of "$m")
  [ -f "$f" ] || "$BIN/llamadesk-cli" synth "$m" "$f" >> "$LOG/bench.err" 2>&1
done
one() {  # backend label model args...: one bench --json line (-r 2)
  local be=$1 label=$2 m=$3; shift 3
  left 25 "$label $m" || return 0
  local line
  line=$(timeout 120 "$BIN/llamadesk-cli" bench --backend "$be" -m "$(file_of "$m")" -r 2 --json "$@" 2>>"$LOG/bench.err")
  echo "$label $m $line" >> "$LOG/bench.jsonl"
  say "bench $label $m $*: $(echo "$line" | sed -E 's/.*"prompt_tps": ([0-9.]+), "gen_tps": ([0-9.]+), "gen_weight_gbps": ([0-9.]+).*/pp \1  tg \2 tok\/s  \3 GB\/s/')"
}
par() {  # backend label model: aggregate decode for 1..16 sequences
  local be=$1 label=$2 m=$3
  left 40 "parallel $label $m" || return 0
  local line
  line=$(timeout 120 "$BIN/llamadesk-cli" bench --backend "$be" -m "$(file_of "$m")" -r 3 -n 64 -d 512 \
    --parallel 1,2,4,8,16 --json 2>>"$LOG/bench.err")
  echo "$label $m $line" >> "$LOG/parallel.jsonl"
  say "parallel $label $m: $(echo "$line" | sed -nE 's/.*"parallel": ([0-9]+), "tg_aggregate": ([0-9.]+), "tg_per_sequence": ([0-9.]+).*/N=\1 \2 (\3 each)/p' | paste -sd ';' -)"
}
ver() {  # backend label model: a k + 1 token verification pass against one decode step
  local be=$1 label=$2 m=$3
  left 30 "verify $label $m" || return 0
  local line
  line=$(timeout 90 "$BIN/llamadesk-cli" bench --backend "$be" -m "$(file_of "$m")" -r 3 -p 0 -n 8 -d 512 \
    --verify 1,2,4,8 --json 2>>"$LOG/bench.err")
  echo "$label $m $line" >> "$LOG/verify.jsonl"
  say "verify $label $m: $(echo "$line" | grep -oE '"k": [0-9]+, "step_ms": [0-9.]+, "pass_ms": [0-9.]+' |
    sed -E 's/"k": ([0-9]+), "step_ms": ([0-9.]+), "pass_ms": ([0-9.]+)/k=\1 \3 ms (step \2)/' | paste -sd ';' -)"
}

# 2. CUDA decode with the unmeasured variants off / on, the default again between and after
#    (drift between runs shows), and the prompt. mv3 = LLAMADESK_CUDA_MV_VARIANT=3.
if want cuda; then
  one cuda cuda $BIG -p 512 -n 128
  LLAMADESK_CUDA_MV_VARIANT=3 one cuda cuda-mv3 $BIG -p 0 -n 128
  LLAMADESK_CUDA_FUSED_Q8=2 one cuda cuda-fused2 $BIG -p 0 -n 128
  LLAMADESK_CUDA_MV_VARIANT=3 LLAMADESK_CUDA_FUSED_Q8=2 one cuda cuda-mv3-fused2 $BIG -p 0 -n 128
  one cuda cuda $BIG -p 0 -n 128
  one cuda cuda $MID -p 0 -n 128
  LLAMADESK_CUDA_MV_VARIANT=3 one cuda cuda-mv3 $MID -p 0 -n 128
  one cuda cuda $ONE -p 0 -n 128
  LLAMADESK_CUDA_MV_VARIANT=3 one cuda cuda-mv3 $ONE -p 0 -n 128
  LLAMADESK_CUDA_FUSED_Q8=2 one cuda cuda-fused2 $ONE -p 0 -n 128
  # 3. Sequences decoding together, and speculative verification.
  par cuda cuda $BIG
  ver cuda cuda $BIG
fi
# 4. Vulkan.
if want vulkan; then
  one vulkan vulkan $BIG -p 512 -n 128
  par vulkan vulkan $BIG
  ver vulkan vulkan $BIG
fi
# 5. 1B aggregate decode, what the small-batch kernels replaced, and decode at 4,096 positions.
if want cuda; then
  par cuda cuda $ONE
  LLAMADESK_CUDA_SMALL_BATCH=0 par cuda cuda-small_batch=0 $BIG
  LLAMADESK_CUDA_SMALL_BATCH=0 ver cuda cuda-small_batch=0 $BIG
  one cuda cuda-d4096 $BIG -p 0 -n 128 -d 4096
fi
if want vulkan; then
  LLAMADESK_VK_SMALL_BATCH=0 par vulkan vulkan-small_batch=0 $BIG
  one vulkan vulkan-d4096 $BIG -p 0 -n 128 -d 4096
fi
say "done at ${SECONDS} s"
finish
