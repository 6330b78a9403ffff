#!/bin/bash
# Parallel sequences on the lent GPU (issue 17): the paged-step tests of both GPU backends, then
# aggregate decode for 1, 2, 4, 8, 16 sequences decoding together (`bench --parallel`, the counts
# alternating rep by rep over one backend) on synthetic 1B and 8B, Q4_0 and Q4_K_M, CUDA and
# Vulkan. Goal: 8 sequences >= 6x the aggregate of 1 (each >= 75% of solo speed). Prepared like
# the others (benchmarks/device_prepare.sh); about 5 minutes on an H100/H200.
# CUDA's small-batch int8 kernel (inference/cuda/matvec_batch.cu, steps of 2..16 tokens) against
# the prompt path it replaced (dequantize + cuBLAS; LLAMADESK_CUDA_SMALL_BATCH=0), in the same
# call and first: its op tests at 8B shapes, then bench --parallel 1,2,4,8,16 and --verify 1,2,4,8
# (a k + 1 token pass against one step) on synthetic 1B Q4_0 and 8B Q4_K_M, kernel on and off.
# Vulkan's (Ops::matmul_q8b; LLAMADESK_VK_SMALL_BATCH=0) follows the same way. The whole script
# no longer fits one 540 s call: run SMALL_BATCH_ONLY=1 (stops after those comparisons) first,
# then SKIP_SMALL_BATCH=1 for the sweeps, split-K at 4,096 positions and the reopen rows.
#   bash benchmarks/device_run_parallel.sh
# Dry run without a GPU (plumbing only; lavapipe numbers mean nothing):
#   VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json BIN=build/app/cli ONLY=vulkan \
#     OUT=/tmp/ld-out bash benchmarks/device_run_parallel.sh
set -u
BIN_OVERRIDE=${BIN:-}
. benchmarks/device_lib.sh
[ -n "$BIN_OVERRIDE" ] && BIN=$(cd "$BIN_OVERRIDE" && pwd)
vulkan_setup
gpu_summary
TAG=paged run_tests "$BIN"/test_cuda_paged "$BIN"/test_vk_seq_batch
pbench() {  # backend synthetic-name: one bench --parallel line per count, from the --json line
  # (DEPTH=, COUNTS= override -d 512 and 1..16; LABEL= tags the lines)
  local be=$1 name=$2 line
  [ "$((540 - SECONDS))" -ge 40 ] || { say "skipped (time budget): $be $name"; return; }
  line=$(timeout "${BENCH_TIMEOUT:-120}" "$BIN/llamadesk-cli" bench --backend "$be" --synthetic "$name" -r 3 \
    -n 64 -d "${DEPTH:-512}" --parallel "${COUNTS:-1,2,4,8,16}" --json 2>>"$LOG/bench.err")
  echo "$line" | sed "s/^/$be $name ${LABEL:-} /" >> "$LOG/parallel.jsonl"
  say "parallel $be $name ${LABEL:-}: $(echo "$line" | sed -nE 's/.*"parallel": ([0-9]+), "tg_aggregate": ([0-9.]+), "tg_per_sequence": ([0-9.]+).*/N=\1 \2 (\3 each)/p' | paste -sd ';' -)"
}
vbench() {  # backend synthetic-name: a k + 1 token verification pass against one step (LABEL= tags it)
  local be=$1 name=$2 line
  [ "$((540 - SECONDS))" -ge 40 ] || { say "skipped (time budget): verify $be $name ${LABEL:-}"; return; }
  line=$(timeout "${BENCH_TIMEOUT:-120}" "$BIN/llamadesk-cli" bench --backend "$be" --synthetic "$name" -r 3 \
    -p 0 -n 8 -d 512 --verify 1,2,4,8 --json 2>>"$LOG/bench.err")
  echo "$be $name ${LABEL:-} $line" >> "$LOG/verify.jsonl"
  say "verify $be $name ${LABEL:-}: $(echo "$line" | grep -oE '"k": [0-9]+, "step_ms": [0-9.]+, "pass_ms": [0-9.]+' |
    sed -E 's/"k": ([0-9]+), "step_ms": ([0-9.]+), "pass_ms": ([0-9.]+)/k=\1 \3 ms (step \2)/' | paste -sd ';' -)"
}
# CUDA's small-batch kernel: its op tests, then on (the default, 16) and off model by model.
if [ -z "${SKIP_SMALL_BATCH:-}" ] && { [ -z "${ONLY:-}" ] || [ "$ONLY" = cuda ]; }; then
  GTEST_FILTER='Types/*SmallBatch*:CudaModelSizes.*' TAG=smallbatch run_tests "$BIN"/test_cuda_ops
  for m in llama-3.2-1b:q4_0 llama-3.1-8b:q4_k_m; do
    LABEL=small_batch=16 pbench cuda "$m"
    LLAMADESK_CUDA_SMALL_BATCH=0 LABEL=small_batch=0 pbench cuda "$m"
    LABEL=small_batch=16 vbench cuda "$m"
    LLAMADESK_CUDA_SMALL_BATCH=0 LABEL=small_batch=0 vbench cuda "$m"
  done
fi
# Vulkan's small-batch kernel (Ops::matmul_q8b) the same way, on against off.
if [ -z "${SKIP_SMALL_BATCH:-}" ] && { [ -z "${ONLY:-}" ] || [ "$ONLY" = vulkan ]; }; then
  for m in llama-3.2-1b:q4_0 llama-3.1-8b:q4_k_m; do
    LABEL=small_batch=16 pbench vulkan "$m"
    LLAMADESK_VK_SMALL_BATCH=0 LABEL=small_batch=0 pbench vulkan "$m"
    LABEL=small_batch=16 vbench vulkan "$m"
    LLAMADESK_VK_SMALL_BATCH=0 LABEL=small_batch=0 vbench vulkan "$m"
  done
fi
[ -n "${SMALL_BATCH_ONLY:-}" ] && { finish; exit 0; }
for be in cuda vulkan; do
  [ -n "${ONLY:-}" ] && [ "$ONLY" != "$be" ] && continue
  for m in llama-3.2-1b:q4_0 llama-3.1-8b:q4_0 llama-3.1-8b:q4_k_m; do
    # 1B Q4_0 and 8B Q4_K_M were measured above (small_batch=16) unless that part was skipped
    [ -z "${SKIP_SMALL_BATCH:-}" ] && [ "$m" != llama-3.1-8b:q4_0 ] && continue
    pbench "$be" "$m"
  done
done
# Split-K of CUDA's paged decode attention (attention_paged.cu) at 4,096 positions, where a few
# sequences leave most SMs idle without it: never splitting against the backend's choice.
if [ -z "${ONLY:-}" ] || [ "$ONLY" = cuda ]; then
  for chunk in -1 0; do
    LLAMADESK_CUDA_PAGED_CHUNK=$chunk DEPTH=4096 COUNTS=1,2,4 LABEL="d4096 paged_chunk=$chunk" \
      pbench cuda llama-3.1-8b:q4_k_m
  done
fi
# Time to first token when reopening a 4,000-token chat (bench --reopen: cached after another
# chat, evicted, cold), synthetic 1B Q4_0 and 8B Q4_K_M with the real Llama 3 tokenizer (synth
# --vocab-from), written to /tmp.
for be in cuda vulkan; do
  [ -n "${ONLY:-}" ] && [ "$ONLY" != "$be" ] && continue
  for m in llama-3.2-1b:q4_0 llama-3.1-8b:q4_k_m; do
    [ "$((540 - SECONDS))" -ge 60 ] || { say "skipped (time budget): reopen $be $m"; continue; }
    f=/tmp/ld-reopen-${m//[:.]/-}.gguf
    [ -f "$f" ] || "$BIN/llamadesk-cli" synth "$m" "$f" \
      --vocab-from "$LLAMADESK_SHARED_DIR/models/tiny-llama31-random-f16.gguf" >>"$LOG/bench.err" 2>&1
    line=$(timeout "${BENCH_TIMEOUT:-120}" "$BIN/llamadesk-cli" bench --backend "$be" -m "$f" --reopen 4000 -r 3 \
      --json 2>>"$LOG/bench.err")
    echo "$be $m $line" >> "$LOG/reopen.jsonl"
    say "reopen $be $m: $(echo "$line" | grep -oE '"(reopen|evicted|cold)_(ttft_ms|prompt_run)": [0-9.]+' |
      sed 's/"//g' | paste -sd ' ' -)"
  done
done
finish
