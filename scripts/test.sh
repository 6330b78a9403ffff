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

# @huggingface/jinja (npm, test-time only) renders the reference tool-calling chat templates,
# pinned by tests/tools/package-lock.json; reinstalled when the lock file changes.
if ! command -v npm >/dev/null; then
  missing "npm is not installed, so @huggingface/jinja (tool prompt references) is not either"
elif ! cmp -s tests/tools/package-lock.json "$BUILD/tools-npm/package-lock.json" ||
  [ ! -d "$BUILD/tools-npm/node_modules/@huggingface/jinja" ]; then
  mkdir -p "$BUILD/tools-npm"
  cp tests/tools/package.json tests/tools/package-lock.json "$BUILD/tools-npm/"
  (cd "$BUILD/tools-npm" && npm ci --no-audit --no-fund) || missing "could not install tests/tools (npm ci)"
fi

# The API server tests' openai client (npm, test-time only), pinned by
# tests/server/package-lock.json; reinstalled when the lock file changes.
if ! command -v npm >/dev/null; then
  missing "npm is not installed, so the openai client (API server tests) is not either"
elif ! cmp -s tests/server/package-lock.json "$BUILD/server-tests/package-lock.json" ||
  [ ! -d "$BUILD/server-tests/node_modules/openai" ]; then
  mkdir -p "$BUILD/server-tests"
  cp tests/server/package.json tests/server/package-lock.json "$BUILD/server-tests/"
  (cd "$BUILD/server-tests" && npm ci --no-audit --no-fund) || missing "could not install tests/server (npm ci)"
fi

# The official MCP servers (server-everything, server-filesystem) the MCP client tests run
# against (npm, test-time only), pinned by tests/mcp/package-lock.json; reinstalled when it changes.
if ! command -v npm >/dev/null; then
  missing "npm is not installed, so the MCP servers (MCP client tests) are not either"
elif ! cmp -s tests/mcp/package-lock.json "$BUILD/mcp-servers/package-lock.json" ||
  [ ! -d "$BUILD/mcp-servers/node_modules/@modelcontextprotocol/server-everything" ]; then
  mkdir -p "$BUILD/mcp-servers"
  cp tests/mcp/package.json tests/mcp/package-lock.json "$BUILD/mcp-servers/"
  (cd "$BUILD/mcp-servers" && npm ci --no-audit --no-fund) || missing "could not install tests/mcp (npm ci)"
fi

ctest --test-dir "$BUILD" -LE cuda --output-on-failure -j"$(nproc)" --timeout 900
