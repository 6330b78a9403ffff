// Writes a seed corpus of small valid GGUF files for gguf_fuzz: every metadata type, nested
// arrays, several tensor types and shapes, and non-default alignment. Small seeds keep the
// fuzzer's mutations close to the structure it has to get past.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "inference/gguf/gguf_writer.h"

using namespace ld;
using namespace ld::gguf;

namespace {

Value scalar(ValueType t, uint64_t u, int64_t i, double f) {
    Value v;
    v.type = t;
    v.u = u;
    v.i = i;
    v.f = f;
    return v;
}

void add_all_types(Writer& w) {
    w.copy({"t.u8", scalar(ValueType::UINT8, 200, 200, 0)});
    w.copy({"t.i8", scalar(ValueType::INT8, 0, -100, 0)});
    w.copy({"t.u16", scalar(ValueType::UINT16, 60000, 0, 0)});
    w.copy({"t.i16", scalar(ValueType::INT16, 0, -30000, 0)});
    w.set_u32("t.u32", 4000000000u);
    w.set_i32("t.i32", -2000000000);
    w.set_u64("t.u64", ~0ull);
    w.copy({"t.i64", scalar(ValueType::INT64, 0, -5, 0)});
    w.set_f32("t.f32", 1.5f);
    w.copy({"t.f64", scalar(ValueType::FLOAT64, 0, 0, -2.25)});
    w.set_bool("t.bool", true);
    w.set_string("t.str", "hello");
    w.set_string_array("t.strs", {"a", "", "bc"});
    w.set_f32_array("t.f32s", {1.0f, -2.0f, 1e30f});
    w.set_i32_array("t.i32s", {1, -2, 3});
    static const uint8_t bools[] = {0, 1, 1};
    Value ba;
    ba.type = ValueType::ARRAY;
    ba.elem_type = ValueType::BOOL;
    ba.count = 3;
    ba.raw = bools;
    w.copy({"t.bools", ba});
    static const double doubles[] = {0.5, -1e300};
    Value da = ba;
    da.elem_type = ValueType::FLOAT64;
    da.count = 2;
    da.raw = reinterpret_cast<const uint8_t*>(doubles);
    w.copy({"t.f64s", da});
    Value nested;
    nested.type = ValueType::ARRAY;
    nested.elem_type = ValueType::ARRAY;
    nested.count = 2;
    nested.items = {ba, da};
    w.copy({"t.nested", nested});
}

void write(const std::string& dir, const std::string& name, const Writer& w, uint32_t alignment = 32) {
    w.write(dir + "/" + name, alignment);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    try {
        std::vector<uint8_t> bytes(4096);
        for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = uint8_t(k * 7 + 3);

        Writer empty;
        write(dir, "empty.gguf", empty);

        Writer meta;
        add_all_types(meta);
        write(dir, "metadata.gguf", meta);

        Writer f32;
        f32.set_string("general.architecture", "llama");
        f32.add_tensor("a", GgmlType::F32, {4}, bytes.data());
        f32.add_tensor("b", GgmlType::F16, {3, 2}, bytes.data());
        write(dir, "f32.gguf", f32);

        Writer quant;
        quant.set_u32("general.file_type", 7);
        quant.add_tensor("q4_0", GgmlType::Q4_0, {32, 2}, bytes.data());
        quant.add_tensor("q8_0", GgmlType::Q8_0, {64}, bytes.data());
        quant.add_tensor("q4_k", GgmlType::Q4_K, {256}, bytes.data());
        quant.add_tensor("q6_k", GgmlType::Q6_K, {256, 1, 1, 1}, bytes.data());
        write(dir, "quant.gguf", quant);

        Writer aligned;
        aligned.set_string("general.name", "aligned");
        aligned.add_tensor("x", GgmlType::F32, {5}, bytes.data());
        aligned.add_tensor("y", GgmlType::I8, {3}, bytes.data());
        write(dir, "align64.gguf", aligned, 64);
        write(dir, "align1.gguf", aligned, 1);

        Writer all;
        add_all_types(all);
        all.add_tensor("w", GgmlType::BF16, {2, 2}, bytes.data());
        write(dir, "all.gguf", all, 16);
    } catch (const ld::Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
