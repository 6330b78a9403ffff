#!/bin/bash
# Builds, on this (Debian) machine, what benchmarks/device_run.sh runs on the lent GPU machine:
# the engine-only CLI with Vulkan and CUDA, the CUDA plugin, the GPU test binaries and the copy-
# bandwidth probe, into .devbin/ (with the shared libraries the device lacks), and the reference
# models the tests read into .devshared/, and the Vulkan loader's package into .gl/. They are
# git-ignored (.gitignore) and travel with the call as `carry`: .devbin.tar.xz .devshared .gl.
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
# The Vulkan loader (the device has none): Debian's libvulkan1, unpacked there by device_lib.sh.
mkdir -p .gl
ls .gl/libvulkan1_*.deb >/dev/null 2>&1 || (cd .gl && apt-get download libvulkan1)
for f in stories260K.gguf stories260K.reference.txt; do cp "$SHARED/models/$f" .devshared/models/; done
# The device call carries these plus the tracked tree: 64 MiB in all. tiny-llama31 (41 MB of f16
# weights) goes only where it fits: without it, its logits checks skip on the device (they ran
# there in earlier sessions); stories260K's greedy text and the synthetic mixes still run.
bytes() { du -sbc "$@" | tail -1 | cut -f1; }
LIMIT=$((64 << 20))
# The binaries travel packed (52 MB -> 12 MB with xz); device_lib.sh unpacks them into .devbin.
tar -cf - .devbin | xz -T2 -6 > .devbin.tar.xz
total=$(( $(bytes .devbin.tar.xz .devshared .gl) + $(git ls-files -z | xargs -0 cat | wc -c) ))
TINY=(tiny-llama31-random-f16.gguf tiny-llama31-random-f16.plain.logits.f32 tiny-llama31-random-f16.reference.json)
tiny=$(cd "$SHARED/models" && bytes "${TINY[@]}")
if [ $((total + tiny)) -lt "$LIMIT" ]; then
  for f in "${TINY[@]}"; do cp "$SHARED/models/$f" .devshared/models/; done
  total=$((total + tiny))
else
  echo "tiny-llama31 left out: it would bring the carry to $(((total + tiny) >> 20)) MiB of 64 (its GPU checks skip there)"
fi
du -sh .devbin .devbin.tar.xz .devshared .gl; ls .devbin
echo "carry + tree: $((total >> 20)) MiB of 64 (carry: .devbin.tar.xz .devshared .gl)"
[ "$total" -lt "$LIMIT" ] || { echo "over the device's 64 MiB: use VULKAN_ONLY=1 or carry less" >&2; exit 1; }
