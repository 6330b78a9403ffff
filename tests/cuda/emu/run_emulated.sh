#!/bin/bash
# Builds libllamadesk_cuda.so against the CUDA emulator in this folder (g++ only, no nvcc, no GPU)
# and runs the CUDA tests through it, so kernel indexing, shuffles, barriers and the forward pass
# can be checked before a GPU run. Slow (the op tests take a few minutes, the model tests longer).
#   tests/cuda/emu/run_emulated.sh BUILD_DIR [gtest filter for test_cuda_ops] [filter for test_cuda_model]
#                                  [filter for test_cuda_paged (none: not run)]
# BUILD_DIR is a configured build with test_cuda_ops / test_cuda_model built (any LLAMADESK_CUDA).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=$(cd "$1" && pwd)
ops_filter=${2:-'Types/*:CudaOps.RmsNorm*:CudaOps.SwiGlu:CudaOps.Rope*:CudaOps.Reject*'}
model_filter=${3:-'CudaBackend.ErrorsAreClear:CudaBackend.ProgressAndCancel'}
paged_filter=${4:-}
out=$build/cuda_emu
mkdir -p "$out/src"
python3 "$here/gen_sources.py" "$root/inference/cuda" "$out/src"
g++ -std=c++20 -O2 -fPIC -shared -fvisibility=hidden -w -I "$here/include" -I "$root" \
  "$out"/src/*.cpp "$here/emu.cpp" "$root"/inference/cuda/*.cpp "$here/../cuda_test_ops.cpp" \
  "$root/inference/quant/types.cpp" "$root/inference/backend/memory_plan.cpp" \
  -o "$out/libllamadesk_cuda_emu.so"
export LLAMADESK_CUDA_PLUGIN=$out/libllamadesk_cuda_emu.so
# The emulator is always there: a plugin that fails to load fails the tests (cuda_test_util.h).
export LLAMADESK_TEST_CUDA_EMULATED=1
ops=$(find "$build" -name test_cuda_ops -type f -perm -u+x -print -quit)
model=$(find "$build" -name test_cuda_model -type f -perm -u+x -print -quit)
"$ops" --gtest_filter="$ops_filter"
# The decode matvec's split-K with 4 warps per row group (the default picks it for few rows only).
LLAMADESK_CUDA_MV_SPLIT=4 "$ops" --gtest_filter='Types/*Matmul*:Types/*Fused*:Types/*Qkv*'
# The decode matvec variants (Tuning::cuda_mv_variant) against the default kernels, bit for bit.
kernels=$(find "$build" -name test_cuda_kernels -type f -perm -u+x | head -1)
"$kernels"
"$model" --gtest_filter="$model_filter"
if [ -n "$paged_filter" ]; then
  paged=$(find "$build" -name test_cuda_paged -type f -perm -u+x | head -1)
  "$paged" --gtest_filter="$paged_filter"
fi
