#!/usr/bin/env bash
# Sets up (Debian 12), builds and runs every test except the GPU-only `cuda` label.
# The llama.cpp oracle (node-llama-cpp from npm, test-time only) goes into build/oracle; the
# tests that need it skip when npm cannot install it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

packaging/setup-debian.sh --test
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" -j"$(nproc)"

if command -v npm >/dev/null && [ ! -d "$BUILD/oracle/node_modules/node-llama-cpp" ]; then
  mkdir -p "$BUILD/oracle"
  (cd "$BUILD/oracle" && npm init -y >/dev/null && npm i -E --no-audit --no-fund node-llama-cpp@3.21.1) ||
    echo "warning: could not install node-llama-cpp; oracle tests will skip"
fi

ctest --test-dir "$BUILD" -LE cuda --output-on-failure -j"$(nproc)" --timeout 900
