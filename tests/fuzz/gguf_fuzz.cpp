// libFuzzer target for the GGUF reader. A hostile file must end in ld::Error; an accepted file
// must only point inside the input. Touching every tensor's first and last byte and every
// metadata value lets ASan see any view that reaches past the buffer libFuzzer allocated.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "inference/gguf/gguf.h"

namespace {

volatile uint64_t g_sink;

void require(bool ok) {
    if (!ok) __builtin_trap();  // an invariant of an accepted file is broken: a reader bug
}

void touch(std::string_view s) {
    if (!s.empty()) g_sink = g_sink + uint8_t(s.front()) + uint8_t(s.back());
}

void touch_value(const ld::gguf::Value& v) {
    using ld::gguf::ValueType;
    g_sink = g_sink + v.u + uint64_t(v.i) + uint64_t(v.is_integer()) + uint64_t(v.is_float());
    touch(ld::gguf::value_type_name(v.type));
    if (v.type == ValueType::STRING) touch(v.str);
    if (v.type != ValueType::ARRAY) return;
    touch(ld::gguf::value_type_name(v.elem_type));
    if (v.elem_type == ValueType::STRING) {
        require(v.strings.size() == v.count);
        for (std::string_view s : v.strings) touch(s);
    } else if (v.elem_type == ValueType::ARRAY) {
        require(v.items.size() == v.count);
        for (const auto& item : v.items) touch_value(item);
    } else {
        require(v.raw != nullptr || v.count == 0);
        if (v.count > 0) {
            g_sink = g_sink + (v.number_at(0) == 0.0) + uint64_t(v.integer_at(0));
            g_sink = g_sink + uint64_t(v.integer_at(v.count - 1));
            const double last = v.number_at(v.count - 1);
            g_sink = g_sink + (last == last ? 1 : 0);
        }
    }
}

template <typename F>
void accessor(F&& f) {
    try {
        f();
    } catch (const ld::Error&) {
        // a type mismatch is a valid answer for an arbitrary key
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::unique_ptr<ld::gguf::File> f;
    try {
        f = ld::gguf::File::parse(data, size);
    } catch (const ld::Error& e) {
        require(e.what()[0] != '\0');  // every rejection says why
        return 0;
    }
    require(f->version() == 2 || f->version() == 3);
    require(f->data_offset() % f->alignment() == 0);
    for (const auto& t : f->tensors()) {
        require(t.nbytes > 0 && t.data >= data && t.data + t.nbytes <= data + size);
        require(t.data >= data + f->data_offset());
        require(f->find_tensor(t.name) == &t);
        g_sink = g_sink + t.data[0] + t.data[t.nbytes - 1] + uint64_t(t.dim(0)) + uint64_t(t.dim(7));
        touch(ld::type_name(t.type));
    }
    for (const auto& kv : f->metadata()) {
        touch(kv.key);
        require(f->find(kv.key) == &kv.value);
        touch_value(kv.value);
        const std::string_view k = kv.key;
        accessor([&] { if (auto v = f->get_u64(k)) g_sink = g_sink + *v; });
        accessor([&] { if (auto v = f->get_i64(k)) g_sink = g_sink + uint64_t(*v); });
        accessor([&] { if (auto v = f->get_f64(k)) g_sink = g_sink + (*v == *v); });
        accessor([&] { if (auto v = f->get_bool(k)) g_sink = g_sink + *v; });
        accessor([&] { if (auto v = f->get_string(k)) touch(*v); });
        accessor([&] {
            if (const auto* v = f->get_string_array(k)) for (auto s : *v) touch(s);
        });
        accessor([&] { for (float x : f->get_f32_array(k)) g_sink = g_sink + (x == x); });
        accessor([&] { for (int32_t x : f->get_i32_array(k)) g_sink = g_sink + uint64_t(x); });
    }
    return 0;
}
