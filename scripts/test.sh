#!/usr/bin/env bash
# Sets up (Debian 12), builds and runs every test except the GPU-only `cuda` label.
# The llama.cpp oracle (node-llama-cpp from npm, test-time only) goes into build/oracle. Without
# it, or without the shared test data (../shared), the tests that need them skip with a reason on
# a developer's machine; in CI (CI=true) both are always there, so their absence fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

packaging/setup-debian.sh --test
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" -j"$(nproc)"

case "${CI:-}" in true | TRUE | 1) ci=1 ;; *) ci=0 ;; esac
# missing WHAT: stop in CI, warn otherwise (the tests that need it then skip with a reason).
missing() {
  if [ "$ci" = 1 ]; then
    echo "error: $1 (CI=true: test data and npm peers must be present)" >&2
    exit 1
  fi
  echo "warning: $1; the tests that need it will skip" >&2
}
shared=${LLAMADESK_SHARED_DIR:-$(pwd)/../shared}
[ -d "$shared/models" ] || missing "no shared test data in $shared (set LLAMADESK_SHARED_DIR)"

if ! command -v npm >/dev/null; then
  missing "npm is not installed, so node-llama-cpp (the oracle) is not either"
elif [ ! -d "$BUILD/oracle/node_modules/node-llama-cpp" ]; then
  mkdir -p "$BUILD/oracle"
  (cd "$BUILD/oracle" && npm init -y >/dev/null && npm i -E --no-audit --no-fund node-llama-cpp@3.21.1) ||
    missing "could not install node-llama-cpp"
fi

# The npm peers the tests run against (test-time only, never shipped), each pinned by a committed
# package-lock.json: `npm_peer SRC TARGET MARKER WHAT` runs `npm ci` for SRC/package*.json in
# $BUILD/TARGET (where tests/CMakeLists.txt looks for it) unless MARKER is already installed from
# the same lock file.
npm_peer() {
  local src=$1 target=$2 marker=$3 what=$4
  if ! command -v npm >/dev/null; then
    missing "npm is not installed, so $what is not either"
  elif ! cmp -s "$src/package-lock.json" "$BUILD/$target/package-lock.json" ||
    [ ! -d "$BUILD/$target/node_modules/$marker" ]; then
    mkdir -p "$BUILD/$target"
    cp "$src/package.json" "$src/package-lock.json" "$BUILD/$target/"
    (cd "$BUILD/$target" && npm ci --no-audit --no-fund) || missing "could not install $src (npm ci)"
  fi
}
npm_peer tests/tools tools-npm @huggingface/jinja "@huggingface/jinja (tool prompt references)"
npm_peer tests/server server-tests openai "the openai client (API server tests)"
npm_peer tests/mcp mcp-servers @modelcontextprotocol/server-everything \
  "the MCP servers (MCP client tests)"

ctest --test-dir "$BUILD" -LE cuda --output-on-failure -j"$(nproc)" --timeout 900
