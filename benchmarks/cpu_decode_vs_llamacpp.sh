#!/usr/bin/env bash
# One decoding sequence, ours and llama.cpp's, alternating on the same GGUF files (issue 17's
# N = 1 goal). Each round runs ours, then llama.cpp, on every file, and prints both rates with
# the load average at the start of each run, so ratios come from the same minutes of the machine.
#   benchmarks/cpu_decode_vs_llamacpp.sh ROUNDS FILE.gguf...
# From the repository root after building build/; llama.cpp is node-llama-cpp@3.21.1 in
# build/oracle (scripts/test.sh installs it). Threads: $THREADS (2), tokens: $N (64).
set -euo pipefail
R=${1:?rounds}
shift
T=${THREADS:-2}
N=${N:-64}
CLI=$PWD/build/app/cli/llamadesk-cli
cp benchmarks/llamacpp_parallel.mjs build/oracle/
load() { cut -d' ' -f1-3 /proc/loadavg; }
for r in $(seq "$R"); do
  for f in "$@"; do
    l=$(load)
    ours=$("$CLI" bench -m "$f" -p 16 -n "$N" --threads "$T" -r 1 --json 2>/dev/null | grep -o '"gen_tps": [0-9.]*' | cut -d' ' -f2)
    l2=$(load)
    theirs=$(cd build/oracle && node llamacpp_parallel.mjs "$f" "$N" 1 "$T" 1 2>/dev/null | grep -o '"tg_aggregate":[0-9.]*' | cut -d: -f2)
    printf '%s round %d %s: ours %.2f tok/s (load %s), llama.cpp %.2f tok/s (load %s), ratio %.3f\n' \
      "$(date +%T)" "$r" "$(basename "$f")" "$ours" "$l" "$theirs" "$l2" "$(echo "$ours / $theirs" | bc -l)"
  done
done
