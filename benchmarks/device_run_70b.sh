#!/bin/bash
# Llama 3.1 70B Q4_K_M on one card (issue 19, item 2): the memory plan each backend prints, decode
# and prompt speed on CUDA and Vulkan, and the refusal (CUDA) or system-memory layers (Vulkan) at
# the full 131072-position context, where the KV cache alone is 40 GiB. A call of its own: the
# synthetic model is 42.5 GB, built in the bench process's memory (the device has 128 GiB) and
# uploaded once per run. Prepared like the others (benchmarks/device_prepare.sh; VULKAN_ONLY=1
# drops the CUDA half). Estimated on an H100 (not yet run, rerun with a larger timeout_s if over):
# each 70B bench ~20 s to build the weights + ~15 s to upload + ~10 s of decode and prompt, so
# about 4 minutes in all; `file` adds ~2 minutes.
#   bash benchmarks/device_run_70b.sh [file]
# `file`: also `synth` the model to the device's disk (42.5 GB of its 64 GiB; streamed, under
# 1 GB of memory) and bench the file with -m (the load path people use), then delete it.
# Dry run on a machine without a GPU (checks the plumbing with a small model and whatever
# backends it has; the numbers mean nothing):
#   VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json M70=llama-3.2-1b:q4_0 BIN=build/app/cli \
#     OUT=/tmp/ld-out bash benchmarks/device_run_70b.sh file
set -u
BIN_OVERRIDE=${BIN:-}
. benchmarks/device_lib.sh
if [ -n "$BIN_OVERRIDE" ]; then
  BIN=$(cd "$BIN_OVERRIDE" && pwd); export LLAMADESK_CUDA_PLUGIN=$BIN/libllamadesk_cuda_test.so
fi
M=${M70:-llama-3.1-70b:q4_k_m}
# Each step's timeout: at most 240 s (a 70B bench takes ~45 s), and never past 540 s of the
# script, so finish() still brings the logs back within a 600-second call.
budget() {
  local left=$((540 - SECONDS))
  [ "$left" -ge 30 ] || { say "skipped (time budget): $*"; return 1; }
  export BENCH_TIMEOUT=$((left < 240 ? left : 240)); T0=$SECONDS
}
vulkan_setup
gpu_summary
command -v nvidia-smi >/dev/null &&
  say "memory: $(nvidia-smi --query-gpu=memory.total,memory.used,memory.free --format=csv,noheader)"
say "host: $(grep -E '^MemAvailable' /proc/meminfo | tr -s ' ') available, $(df -h --output=avail /tmp | tail -1 | tr -d ' ') free on /tmp"

plan() {  # the plan line (or the refusal) the last bench printed, and its wall time (build + load + runs)
  say "  plan: $(grep -E '^(cuda|vulkan): weights|^error:' "$LOG/bench.err" | tail -1)  [$((SECONDS - T0)) s]"
}
have_cuda() { [ -e "$LLAMADESK_CUDA_PLUGIN" ]; }  # not with VULKAN_ONLY=1 (nor on a dry run)

# Decode and prompt at the app's default context (bench alone would size the cache to -p + -n:
# 8192 positions is the plan a user sees, a 2.5 GiB KV cache; decode reads only the positions
# in use, so the speed is the same).
if have_cuda; then
  budget cuda && { bench cuda cuda "$M" -p 512 -n 128 --ctx 8192; plan; }
fi
budget vulkan && { bench vulkan vulkan "$M" -p 512 -n 128 --ctx 8192; plan; }
# The full context: CUDA refuses on an 80 GB card, naming the numbers and the context that fits
# (and runs on an H200); Vulkan keeps the layers that do not fit in system memory.
if have_cuda; then
  budget cuda-ctx131072 && { bench cuda cuda-ctx131072 "$M" -p 16 -n 8 -r 1 --ctx 131072; plan; }
fi
budget vulkan-ctx131072 && { bench vulkan vulkan-ctx131072 "$M" -p 16 -n 8 -r 1 --ctx 131072; plan; }

if [ "${1:-}" = file ] && budget file; then
  f=/tmp/ld-70b.gguf
  t0=$SECONDS
  timeout "$BENCH_TIMEOUT" "$BIN/llamadesk-cli" synth "$M" "$f" > "$LOG/synth.log" 2>&1; rc=$?
  say "synth $M to disk: rc=$rc in $((SECONDS - t0)) s: $(tail -1 "$LOG/synth.log"), $(du -h "$f" 2>/dev/null | cut -f1)"
  be=vulkan; have_cuda && be=cuda
  budget file-bench || { rm -f "$f" "$f.tmp"; finish; exit 0; }
  line=$(timeout "$BENCH_TIMEOUT" "$BIN/llamadesk-cli" bench --backend $be -m "$f" -p 512 -n 128 -r 2 --ctx 8192 --json 2>>"$LOG/bench.err")
  echo "file-$be $line" >> "$LOG/bench.jsonl"
  say "bench file-$be -m $(basename "$f"): $(echo "$line" | sed -E 's/.*"prompt_tps": ([0-9.]+), "gen_tps": ([0-9.]+), "gen_weight_gbps": ([0-9.]+).*/pp \1  tg \2 tok\/s  \3 GB\/s/')"
  plan
  rm -f "$f" "$f.tmp"
fi
finish
