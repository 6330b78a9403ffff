#include "inference/model/quantize_model.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <thread>

#include "inference/core/error.h"
#include "inference/gguf/gguf_writer.h"
#include "inference/model/synthetic.h"
#include "inference/quant/quant.h"

namespace ld {

namespace {

struct Recipe {
    const char* name;
    const char* mix;       // mix_tensor_type() name, or nullptr for "every matrix in `type`"
    GgmlType type;         // the main type
    uint32_t file_type;    // llama_ftype written to general.file_type
};

constexpr Recipe kRecipes[] = {
    {"Q4_K_M", "q4_k_m", GgmlType::Q4_K, 15}, {"Q5_K_M", "q5_k_m", GgmlType::Q5_K, 17},
    {"Q6_K", "q6_k", GgmlType::Q6_K, 18},     {"Q8_0", nullptr, GgmlType::Q8_0, 7},
    {"Q4_0", nullptr, GgmlType::Q4_0, 2},     {"Q4_1", nullptr, GgmlType::Q4_1, 3},
    {"Q5_0", nullptr, GgmlType::Q5_0, 8},     {"Q5_1", nullptr, GgmlType::Q5_1, 9},
    {"F16", nullptr, GgmlType::F16, 1},       {"F32", nullptr, GgmlType::F32, 0},
};

// llama.cpp's fallback when a row width is not a multiple of the type's block: a 32-wide type
// of similar precision, else F16.
GgmlType fit_type(GgmlType want, int64_t ne0, bool* fell_back) {
    *fell_back = false;
    if (ne0 % traits(want).block_size == 0) return want;
    *fell_back = true;
    GgmlType alt = GgmlType::F16;
    switch (want) {
        case GgmlType::Q4_K: alt = GgmlType::Q5_0; break;
        case GgmlType::Q5_K: alt = GgmlType::Q5_1; break;
        case GgmlType::Q6_K: alt = GgmlType::Q8_0; break;
        default: break;
    }
    return ne0 % traits(alt).block_size == 0 ? alt : GgmlType::F16;
}

// "blk.12.attn_v.weight" -> layer 12, role "attn_v.weight".
void split_name(const std::string& name, int* layer, std::string* role) {
    *layer = -1;
    *role = name;
    if (name.rfind("blk.", 0) != 0) return;
    const size_t dot = name.find('.', 4);
    if (dot == std::string::npos) return;
    *layer = std::atoi(name.c_str() + 4);
    *role = name.substr(dot + 1);
}

}  // namespace

QuantizeStats quantize_model(const std::string& in_path, const std::string& out_path, const std::string& type,
                             const std::function<void(int, int, const std::string&)>& progress,
                             int n_threads) {
    std::string upper = type;
    for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
    const Recipe* recipe = nullptr;
    for (const Recipe& r : kRecipes)
        if (upper == r.name) recipe = &r;
    if (!recipe) fail("unknown quantization type '", type, "' (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q6_K, Q4_K_M, Q5_K_M, F16, F32)");

    std::unique_ptr<gguf::File> in = gguf::File::open(in_path);
    const std::string arch(in->get_string("general.architecture").value_or(""));
    if (arch != "llama") fail(in_path, ": architecture '", arch, "' is not supported (only llama)");
    const int n_layers = int(in->get_u64("llama.block_count").value_or(0));
    const bool tied = in->find_tensor("output.weight") == nullptr;
    if (n_threads <= 0) n_threads = int(std::max(1u, std::thread::hardware_concurrency()));

    gguf::Writer w;
    for (const gguf::KeyValue& kv : in->metadata()) w.copy(kv);
    w.remove("general.alignment");
    w.set_u32("general.file_type", recipe->file_type);
    w.set_u32("general.quantization_version", 2);

    QuantizeStats stats;
    const int total = int(in->tensors().size());
    int done = 0;
    for (const gguf::TensorInfo& t : in->tensors()) {
        stats.in_bytes += t.nbytes;
        int layer;
        std::string role;
        split_name(t.name, &layer, &role);
        GgmlType target = t.type;
        // Norms, rope factors and other vectors stay as they are (F32); only matrices change.
        const bool matrix = t.ne.size() == 2 && role.size() > 7 && role.substr(role.size() - 7) == ".weight";
        if (matrix) {
            const GgmlType want = recipe->mix ? mix_tensor_type(recipe->mix, role, layer, n_layers, tied)
                                              : recipe->type;
            bool fell_back = false;
            target = fit_type(want, t.ne[0], &fell_back);
            stats.fallbacks += fell_back;
        }
        if (!traits(t.type).compute && target != t.type)
            fail(in_path, ": tensor ", t.name, " has type ", type_name(t.type), ", which cannot be converted");
        const size_t out_bytes = row_size(target, t.ne[0]) * size_t(t.nelements / t.ne[0]);
        stats.out_bytes += out_bytes;
        stats.tensors++;
        if (target == t.type) {
            w.add_tensor(t.name, t.type, t.ne, t.data);
        } else {
            const gguf::TensorInfo* src = &t;
            w.add_tensor(t.name, target, t.ne, [src, target, n_threads, &progress, &done, total](uint8_t* dst) {
                const int64_t ne0 = src->ne[0], rows = src->nelements / ne0;
                const size_t in_rb = row_size(src->type, ne0), out_rb = row_size(target, ne0);
                std::vector<std::thread> threads;
                for (int k = 0; k < n_threads; ++k) {
                    threads.emplace_back([&, k] {
                        std::vector<float> row(static_cast<size_t>(ne0));
                        for (int64_t r = rows * k / n_threads; r < rows * (k + 1) / n_threads; ++r) {
                            dequantize_row(src->type, src->data + size_t(r) * in_rb, row.data(), ne0);
                            quantize_row(target, row.data(), dst + size_t(r) * out_rb, ne0);
                        }
                    });
                }
                for (std::thread& th : threads) th.join();
                if (progress) progress(++done, total, src->name);
            });
            continue;
        }
        if (progress) progress(++done, total, t.name);
    }
    w.write(out_path);
    return stats;
}

}  // namespace ld
