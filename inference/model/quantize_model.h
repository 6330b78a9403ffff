#pragma once
// `llamadesk-cli quantize IN OUT TYPE`: rewrites a llama GGUF with its matrices in another
// type, following llama.cpp's recipes so the output is what other GGUF engines expect.
#include <functional>
#include <string>

namespace ld {

struct QuantizeStats {
    size_t in_bytes = 0, out_bytes = 0;
    int tensors = 0, fallbacks = 0;  // fallbacks: tensors whose width did not fit the block
};

// type: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q6_K, Q4_K_M, Q5_K_M, F16, F32 (case-insensitive).
// progress(done, total, tensor name). Throws ld::Error; never leaves a partial OUT behind.
QuantizeStats quantize_model(const std::string& in_path, const std::string& out_path,
                             const std::string& type,
                             const std::function<void(int, int, const std::string&)>& progress = {},
                             int n_threads = 0);

}  // namespace ld
