#!/usr/bin/env bash
# Builds gguf_fuzz (clang, libFuzzer + ASan + UBSan) in its own build folder, writes the seed
# corpus, and fuzzes the GGUF reader for N seconds (default 300).
#   tests/fuzz/run_fuzz.sh [SECONDS] [extra libFuzzer flags...]
# Environment: BUILD_DIR (default <repo>/build-fuzz), JOBS (parallel fuzz jobs, default 1 =
# a single in-process run; cores are usually shared).
# Crashing inputs land in $BUILD_DIR/gguf-artifacts/; the grown corpus in $BUILD_DIR/gguf-corpus/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_TO_RUN="${1:-300}"
shift || true
JOBS="${JOBS:-1}"

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLLAMADESK_FUZZ=ON -DLLAMADESK_TESTS=OFF -DLLAMADESK_ENGINE_ONLY=ON
fi
ninja -C "$BUILD_DIR" -j2 gguf_fuzz gguf_fuzz_seeds

SEEDS="$BUILD_DIR/gguf-seeds"
CORPUS="$BUILD_DIR/gguf-corpus"
ARTIFACTS="$BUILD_DIR/gguf-artifacts"
mkdir -p "$SEEDS" "$CORPUS" "$ARTIFACTS"
"$BUILD_DIR/tests/fuzz/gguf_fuzz_seeds" "$SEEDS"

FLAGS=(-max_total_time="$SECONDS_TO_RUN" -max_len=16384 -rss_limit_mb=2048 -timeout=10
       -dict="$ROOT/tests/fuzz/gguf.dict" -artifact_prefix="$ARTIFACTS/" -print_final_stats=1)
if [ "$JOBS" -gt 1 ]; then FLAGS+=(-jobs="$JOBS" -workers="$JOBS"); fi
cd "$BUILD_DIR"
exec "$BUILD_DIR/tests/fuzz/gguf_fuzz" "${FLAGS[@]}" "$@" "$CORPUS" "$SEEDS"
