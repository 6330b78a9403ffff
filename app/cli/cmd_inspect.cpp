// `tokenize`, `info` and `devices`: look at a model or the machine without running anything.
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "inference/backend/cuda_plugin.h"
#include "inference/gguf/gguf.h"
#include "inference/model/llama.h"
#include "inference/quant/quant.h"
#include "inference/tokenizer/tokenizer.h"
#ifdef LLAMADESK_HAVE_VULKAN
#include "inference/vulkan/vk_backend.h"
#endif

namespace ld::cli {

namespace {

std::string json_escape(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += char(c);
                }
        }
    }
    return out;
}

std::string value_summary(const gguf::Value& v) {
    using gguf::ValueType;
    switch (v.type) {
        case ValueType::STRING: {
            std::string s(v.str.substr(0, 60));
            for (char& c : s) if (c == '\n') c = ' ';
            return "\"" + s + (v.str.size() > 60 ? "...\" (" + std::to_string(v.str.size()) + " chars)" : "\"");
        }
        case ValueType::ARRAY:
            return std::string("[") + std::to_string(v.count) + " x " + gguf::value_type_name(v.elem_type) + "]";
        case ValueType::FLOAT32: case ValueType::FLOAT64: {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%g", v.f);
            return buf;
        }
        case ValueType::BOOL: return v.u ? "true" : "false";
        case ValueType::UINT64: return std::to_string(v.u);
        default: return std::to_string(v.i);
    }
}

}  // namespace

int cmd_tokenize(const ArgList& argv) {
    const Args args(argv, {{"-m|--model", true}, {"-t|--text", true}, {"--special", false}});
    const std::string path = args.require("--model");
    const std::string text = args.require("--text");
    std::unique_ptr<gguf::File> f = gguf::File::open(path);
    std::unique_ptr<Tokenizer> tok = Tokenizer::create(load_vocab(*f));
    const std::vector<int32_t> ids = tok->encode(text, args.has("--special"));
    std::string out = "[";
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
    std::cout << out << "]\n";
    return 0;
}

int cmd_info(const ArgList& argv) {
    const Args args(argv, {{"-m|--model", true}});
    const std::string path = args.require("--model");
    std::unique_ptr<Model> m = load_model(path);
    const gguf::File& f = *m->file;
    const LlamaParams& p = m->params;
    std::printf("file: %s (GGUF v%u, %.2f MiB)\n", path.c_str(), f.version(), f.size() / 1048576.0);
    std::printf("model: %s\n", m->name.empty() ? "(unnamed)" : m->name.c_str());
    std::printf("architecture: llama, %.2f B parameters, %s\n", m->parameter_count() / 1e9, m->dominant_type().c_str());
    std::printf("layers %d, width %d, heads %d (kv %d, dim %d), ffn %d, vocab %d, context %d\n", p.n_layers,
                p.dim, p.n_heads, p.n_kv_heads, p.head_dim, p.ffn_dim, p.n_vocab, p.ctx_train);
    std::printf("rope: base %g, dims %d%s%s\n", p.rope_theta, p.rope_dim,
                p.rope_freq_scale != 1.0f ? ", linear scaling" : "",
                p.rope_freq_factors.empty() ? "" : ", Llama 3.1 frequency factors");
    if (!m->vocab.tokens.empty())
        std::printf("tokenizer: %s%s%s, %zu tokens, bos %d, eos %d\n", m->vocab.model.c_str(),
                    m->vocab.pre.empty() ? "" : " / ", m->vocab.pre.c_str(), m->vocab.tokens.size(),
                    m->vocab.bos, m->vocab.eos);
    std::printf("\nmetadata (%zu keys):\n", f.metadata().size());
    for (const gguf::KeyValue& kv : f.metadata())
        std::printf("  %-44s %s\n", std::string(kv.key).c_str(), value_summary(kv.value).c_str());
    std::map<std::string, std::pair<int, uint64_t>> by_type;
    for (const gguf::TensorInfo& t : f.tensors()) {
        auto& e = by_type[type_name(t.type)];
        e.first++;
        e.second += t.nbytes;
    }
    std::printf("\ntensors (%zu):\n", f.tensors().size());
    for (auto& [name, e] : by_type) std::printf("  %-6s %5d tensors %10.2f MiB\n", name.c_str(), e.first, e.second / 1048576.0);
    return 0;
}

int cmd_devices(const ArgList& argv) {
    const Args args(argv, {{"--json", false}});
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
#ifdef LLAMADESK_HAVE_VULKAN
    std::string why;
    const std::vector<VulkanDeviceLine> vulkan = describe_vulkan_devices(&why);
#endif
    std::string cuda_why;
    const std::vector<cuda::DeviceInfo> cuda_devices = list_cuda_devices(&cuda_why);
    if (args.has("--json")) {
        std::printf("[{\"backend\": \"cpu\", \"index\": 0, \"name\": \"%s\", \"threads\": %u}",
                    json_escape(isa_name(detected_isa())).c_str(), threads);
        for (const cuda::DeviceInfo& d : cuda_devices)
            std::printf(", {\"backend\": \"cuda\", \"index\": %d, \"name\": \"%s\", \"memory_bytes\": %llu, "
                        "\"free_bytes\": %llu, \"sm_count\": %d, \"compute_capability\": \"%d.%d\"}",
                        d.index, json_escape(d.name).c_str(), static_cast<unsigned long long>(d.total_bytes),
                        static_cast<unsigned long long>(d.free_bytes), d.sm_count, d.cc_major, d.cc_minor);
#ifdef LLAMADESK_HAVE_VULKAN
        for (const VulkanDeviceLine& d : vulkan) std::printf(", %s", d.json.c_str());
#endif
        std::printf("]\n");
    } else {
        std::printf("cpu 0: %s, %u threads\n", isa_name(detected_isa()), threads);
        for (const cuda::DeviceInfo& d : cuda_devices)
            std::printf("cuda %d: %s (%.1f GiB, %.1f GiB free, %d SMs, compute %d.%d)\n", d.index, d.name.c_str(),
                        double(d.total_bytes) / (1 << 30), double(d.free_bytes) / (1 << 30), d.sm_count, d.cc_major,
                        d.cc_minor);
        if (cuda_devices.empty()) std::printf("(%s)\n", cuda_why.c_str());
#ifdef LLAMADESK_HAVE_VULKAN
        for (const VulkanDeviceLine& d : vulkan) std::printf("%s\n", d.text.c_str());
        if (vulkan.empty()) std::printf("(no Vulkan device: %s)\n", why.c_str());
#else
        std::printf("(no Vulkan backend in this build)\n");
#endif
    }
    return 0;
}

}  // namespace ld::cli
