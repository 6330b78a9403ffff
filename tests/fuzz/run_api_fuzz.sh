#!/usr/bin/env bash
# Builds api_request_fuzz (clang, libFuzzer + ASan + UBSan) in the fuzz build folder and fuzzes
# the API server's request parser for N seconds (default 300), from the committed seeds.
#   tests/fuzz/run_api_fuzz.sh [SECONDS] [extra libFuzzer flags...]
# Crashing inputs land in $BUILD_DIR/api-artifacts/; the grown corpus in $BUILD_DIR/api-corpus/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_TO_RUN="${1:-300}"
shift || true

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLLAMADESK_FUZZ=ON -DLLAMADESK_TESTS=OFF -DLLAMADESK_ENGINE_ONLY=ON
fi
ninja -C "$BUILD_DIR" -j2 api_request_fuzz

CORPUS="$BUILD_DIR/api-corpus"
ARTIFACTS="$BUILD_DIR/api-artifacts"
mkdir -p "$CORPUS" "$ARTIFACTS"
cd "$BUILD_DIR"
exec "$BUILD_DIR/tests/fuzz/api_request_fuzz" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 \
  -rss_limit_mb=2048 -timeout=10 -dict="$ROOT/tests/fuzz/api_request.dict" \
  -artifact_prefix="$ARTIFACTS/" -print_final_stats=1 "$@" "$CORPUS" "$ROOT/tests/fuzz/api_seeds"
