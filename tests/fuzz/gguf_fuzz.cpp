// libFuzzer target for the GGUF reader (and, on accepted inputs, the writer). A hostile file must
// end in ld::Error; an accepted file must only point inside the input. Touching every tensor's
// first and last byte and every metadata value lets ASan see any view that reaches past the
// buffer libFuzzer allocated.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "inference/gguf/gguf.h"
#include "inference/gguf/gguf_writer.h"

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

size_t elem_size(ld::gguf::ValueType t) {
    using ld::gguf::ValueType;
    switch (t) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
        case ValueType::UINT16: case ValueType::INT16: return 2;
        case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
        default: return 8;
    }
}

// The bytes a value occupies in a file, compared bit for bit (NaN payloads included).
bool same_value(const ld::gguf::Value& a, const ld::gguf::Value& b) {
    using ld::gguf::ValueType;
    if (a.type != b.type) return false;
    switch (a.type) {
        case ValueType::FLOAT32: {
            const float x = float(a.f), y = float(b.f);
            return std::memcmp(&x, &y, 4) == 0;
        }
        case ValueType::FLOAT64: return std::memcmp(&a.f, &b.f, 8) == 0;
        case ValueType::STRING: return a.str == b.str;
        case ValueType::ARRAY:
            if (a.elem_type != b.elem_type || a.count != b.count) return false;
            if (a.elem_type == ValueType::STRING) return a.strings == b.strings;
            if (a.elem_type == ValueType::ARRAY) {
                for (size_t k = 0; k < a.items.size(); ++k)
                    if (!same_value(a.items[k], b.items[k])) return false;
                return true;
            }
            return a.count == 0 || std::memcmp(a.raw, b.raw, size_t(a.count * elem_size(a.elem_type))) == 0;
        default: return a.u == b.u && a.i == b.i;
    }
}

// Differential check: whatever the reader accepts, the writer reproduces (metadata bit for bit,
// tensors byte for byte). Only the alignment key may change type: the writer states it as uint32.
void round_trip(const ld::gguf::File& f) {
    static const std::string path =
        std::string(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/gguf_fuzz_" +
        std::to_string(getpid()) + ".gguf";
    ld::gguf::Writer w;
    try {
        for (const auto& kv : f.metadata()) w.copy(kv);
        for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.ne, t.data);
    } catch (const ld::Error& e) {
        // The writer is stricter about one thing only: ggml's 63-byte tensor name limit.
        require(std::strstr(e.what(), "longer than") != nullptr);
        return;
    }
    w.write(path, uint32_t(f.alignment()));
    auto g = ld::gguf::File::open(path);
    unlink(path.c_str());
    require(g->alignment() == f.alignment());
    require(g->metadata().size() == f.metadata().size());
    for (size_t k = 0; k < f.metadata().size(); ++k) {
        const auto& a = f.metadata()[k];
        const auto& b = g->metadata()[k];
        require(a.key == b.key);
        if (a.key == "general.alignment") require(b.value.u == f.alignment());
        else require(same_value(a.value, b.value));
    }
    require(g->tensors().size() == f.tensors().size());
    for (size_t k = 0; k < f.tensors().size(); ++k) {
        const auto& a = f.tensors()[k];
        const auto& b = g->tensors()[k];
        require(a.name == b.name && a.type == b.type && a.ne == b.ne && a.nbytes == b.nbytes);
        require(std::memcmp(a.data, b.data, size_t(a.nbytes)) == 0);
    }
}

}  // namespace

// The header-only read (model listings) agrees with the full one: it accepts what the full read
// accepts, with the same tables and no data problem, and of what the full read rejects it accepts
// only files whose header is sound but whose tensor data lies past the end, saying so.
void check_header_read(const uint8_t* data, size_t size, const ld::gguf::File* full) {
    std::unique_ptr<ld::gguf::File> h;
    try {
        h = ld::gguf::File::parse_header(data, size);
    } catch (const ld::Error& e) {
        require(e.what()[0] != '\0');
        require(full == nullptr);
        return;
    }
    require(!h->has_tensor_data());
    require(h->bytes_read() <= size);
    for (const auto& t : h->tensors()) require(t.data == nullptr);
    for (const auto& kv : h->metadata()) touch_value(kv.value);
    if (!full) {
        require(!h->data_problem().empty());
        return;
    }
    require(h->data_problem().empty());
    require(h->metadata().size() == full->metadata().size());
    require(h->tensors().size() == full->tensors().size());
    require(h->data_offset() == full->data_offset());
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::unique_ptr<ld::gguf::File> f;
    try {
        f = ld::gguf::File::parse(data, size);
    } catch (const ld::Error& e) {
        require(e.what()[0] != '\0');  // every rejection says why
        check_header_read(data, size, nullptr);
        return 0;
    }
    check_header_read(data, size, f.get());
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
    round_trip(*f);
    return 0;
}
