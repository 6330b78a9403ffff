#!/usr/bin/env bash
# CPU speed, side by side with llama.cpp on the identical GGUF files, plus the machine's read
# bandwidth. Run on an otherwise idle machine from the repository root after building `build/`:
#   benchmarks/cpu_bench.sh [THREADS] [REPS]
# llama.cpp comes from node-llama-cpp@3.21.1 installed in build/oracle (scripts/test.sh does it).
set -euo pipefail
T=${1:-2}
R=${2:-3}
CLI=build/app/cli/llamadesk-cli
SHARED=${LLAMADESK_SHARED_DIR:-../shared}
TMP=${TMPDIR:-/tmp}/llamadesk-bench
mkdir -p "$TMP"
cp benchmarks/llamacpp_bench.mjs build/oracle/

echo "## machine"
lscpu | grep -E "Model name|^CPU\(s\)" || true
g++ -O2 -mavx2 -pthread benchmarks/read_bandwidth.cpp -o "$TMP/read_bandwidth"
"$TMP/read_bandwidth" 1
"$TMP/read_bandwidth" "$T"

run() {  # name file P N
  echo "## $1 (P=$3, N=$4, threads=$T)"
  "$CLI" bench -m "$2" -p "$3" -n "$4" -r "$R" -t "$T" --json
  (cd build/oracle && node llamacpp_bench.mjs "$2" "$3" "$4" "$T" "$R")
  /usr/bin/time -f "peak RSS %M KiB (generate -n 32)" "$CLI" generate -m "$2" --tokens 1,2,3,4 -n 32 --temp 0 -t "$T" >/dev/null 2>"$TMP/time.txt" || true
  tail -1 "$TMP/time.txt"
  echo "file size $(du -k "$2" | cut -f1) KiB"
}

run stories260K "$SHARED/models/stories260K.gguf" 128 128
"$CLI" quantize "$SHARED/models/tiny-llama31-random-f16.gguf" "$TMP/tiny31-q8_0.gguf" Q8_0 2>/dev/null
"$CLI" quantize "$SHARED/models/tiny-llama31-random-f16.gguf" "$TMP/tiny31-q4_0.gguf" Q4_0 2>/dev/null
run tiny-llama31-f16 "$SHARED/models/tiny-llama31-random-f16.gguf" 128 128
run tiny-llama31-q8_0 "$TMP/tiny31-q8_0.gguf" 128 128
run tiny-llama31-q4_0 "$TMP/tiny31-q4_0.gguf" 128 128
for m in q4_0 q8_0 q4_k_m; do
  "$CLI" synth "llama-3.2-1b:$m" "$TMP/synth-1b-$m.gguf" 2>/dev/null
  run "synthetic llama-3.2-1b:$m" "$TMP/synth-1b-$m.gguf" 64 32
done
