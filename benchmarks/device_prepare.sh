#!/bin/bash
# Builds, on this (Debian) machine, what benchmarks/device_run.sh runs on the lent GPU machine:
# the engine-only CLI with Vulkan and CUDA, the CUDA plugin, the GPU test binaries and the copy-
# bandwidth probe, into .devbin/ (with the shared libraries the device lacks), and the reference
# models the tests read into .devshared/. Both folders are git-ignored (.git/info/exclude) and
# travel with the call as `carry`.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${LLAMADESK_SHARED_DIR:-$PWD/../shared}
cmake -S . -B build-dev -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMADESK_ENGINE_ONLY=ON \
  -DLLAMADESK_VULKAN=ON -DLLAMADESK_CUDA=ON -DLLAMADESK_SHARED_DIR="$SHARED" >/dev/null
ninja -C build-dev
rm -rf .devbin .devshared; mkdir -p .devbin .devshared/models
cp build-dev/app/cli/llamadesk-cli .devbin/
# VULKAN_ONLY=1 leaves out the CUDA plugin and tests (12 MB): what travels must stay under 64 MiB.
if [ -z "${VULKAN_ONLY:-}" ]; then
  # Only the plugin's test build: the shipped plugin's objects plus the tests' one-op entry point,
  # so the CLI's benches run the same code, and a second 12 MB copy need not travel.
  cp build-dev/tests/cuda/libllamadesk_cuda_test.so .devbin/
  find build-dev -type f -perm -u+x -name 'test_cuda_*' -exec cp {} .devbin/ \;
fi
find build-dev -type f -perm -u+x \( -name 'test_vk_*' -o -name cuda_copy_bw \) -exec cp {} .devbin/ \;
# BASE=<commit>: also that commit's engine-only Vulkan CLI in .devbin/base/, for before/after runs
# on the same card (device_run_vulkan.sh uses it when present).
if [ -n "${BASE:-}" ]; then
  rm -rf build-base-src && git worktree add -f --detach build-base-src "$BASE" >/dev/null
  cmake -S build-base-src -B build-base -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMADESK_ENGINE_ONLY=ON \
    -DLLAMADESK_VULKAN=ON -DLLAMADESK_CUDA=OFF >/dev/null
  ninja -C build-base llamadesk-cli
  mkdir -p .devbin/base && cp build-base/app/cli/llamadesk-cli .devbin/base/
  git worktree remove --force build-base-src
fi
strip .devbin/* .devbin/base/* 2>/dev/null || true
cp -L /lib/x86_64-linux-gnu/libsentencepiece.so.0 .devbin/
for f in stories260K.gguf stories260K.reference.txt tiny-llama31-random-f16.gguf \
         tiny-llama31-random-f16.plain.logits.f32 tiny-llama31-random-f16.reference.json; do
  cp "$SHARED/models/$f" .devshared/models/
done
du -sh .devbin .devshared .gl; ls .devbin
# The device call carries these plus the tracked tree: 64 MiB in all.
total=$(( $(du -sb .devbin .devshared .gl | awk '{s += $1} END {print s}') + $(git ls-files -z | xargs -0 cat | wc -c) ))
echo "carry + tree: $((total >> 20)) MiB of 64"
[ "$total" -lt $((64 << 20)) ] || echo "over the device's 64 MiB: use VULKAN_ONLY=1 or carry less" >&2
