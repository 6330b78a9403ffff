#include "inference/gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <sstream>
#include <unordered_set>

namespace ld::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
// Limits far above any real model but low enough that a hostile count cannot make the reader
// allocate gigabytes before it notices the file is too short.
constexpr uint64_t kMaxStringLength = 64ull << 20;
constexpr uint64_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 4;
// Counts are only checked against the bytes left, and the tensor data of a big model follows the
// metadata: reserving for a hostile count would still ask for many gigabytes. Reserve at most this
// many entries up front and let vectors grow as entries are actually read.
constexpr uint64_t kMaxReserve = 1 << 16;

size_t capped(uint64_t count) { return size_t(std::min(count, kMaxReserve)); }

// Float-to-integer conversion is undefined for NaN and out-of-range values; a file can hold both.
int64_t saturate_to_i64(double x) {
    if (std::isnan(x)) return 0;
    if (x >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
    if (x <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
    return int64_t(x);
}

bool valid_value_type(uint32_t t) { return t <= uint32_t(ValueType::FLOAT64); }

// Thrown by a header-only parse that reached the end of the bytes read so far but not the end
// of the file: read_header reads more and parses again. Never escapes gguf.cpp.
struct NeedMore {
    uint64_t needed;  // bytes from the start of the file
};

// Bounds-checked little-endian cursor over the file. Every read names what it was reading so a
// truncated file says where it ended. `loaded` <= `size` bytes are in memory (all of them unless
// only the header is being read).
class Reader {
public:
    Reader(const uint8_t* data, size_t size, size_t loaded) : data_(data), size_(size), loaded_(loaded) {}
    size_t pos() const { return pos_; }
    size_t remaining() const { return size_ - pos_; }

    const uint8_t* take(uint64_t n, const char* what) {
        if (n > remaining())
            fail("file ends inside ", what, " (needs ", n, " bytes at offset ", pos_, ", file is ",
                 size_, " bytes)");
        if (n > loaded_ - pos_) throw NeedMore{pos_ + n};
        const uint8_t* p = data_ + pos_;
        pos_ += size_t(n);
        return p;
    }
    template <typename T>
    T read(const char* what) {
        T v;
        std::memcpy(&v, take(sizeof(T), what), sizeof(T));
        return v;
    }
    std::string_view string(const char* what) {
        const uint64_t len = read<uint64_t>(what);
        if (len > kMaxStringLength) fail(what, " has an absurd length (", len, " bytes)");
        const uint8_t* p = take(len, what);
        return {reinterpret_cast<const char*>(p), size_t(len)};
    }

private:
    const uint8_t* data_;
    size_t size_;
    size_t loaded_;
    size_t pos_ = 0;
};

Value read_value(Reader& r, ValueType type, const std::string& key, int depth) {
    Value v;
    v.type = type;
    switch (type) {
        case ValueType::UINT8: v.u = r.read<uint8_t>(key.c_str()); v.i = int64_t(v.u); break;
        case ValueType::INT8: v.i = r.read<int8_t>(key.c_str()); v.u = uint64_t(v.i); break;
        case ValueType::UINT16: v.u = r.read<uint16_t>(key.c_str()); v.i = int64_t(v.u); break;
        case ValueType::INT16: v.i = r.read<int16_t>(key.c_str()); v.u = uint64_t(v.i); break;
        case ValueType::UINT32: v.u = r.read<uint32_t>(key.c_str()); v.i = int64_t(v.u); break;
        case ValueType::INT32: v.i = r.read<int32_t>(key.c_str()); v.u = uint64_t(v.i); break;
        case ValueType::UINT64: v.u = r.read<uint64_t>(key.c_str()); v.i = int64_t(v.u); break;
        case ValueType::INT64: v.i = r.read<int64_t>(key.c_str()); v.u = uint64_t(v.i); break;
        case ValueType::FLOAT32: v.f = r.read<float>(key.c_str()); break;
        case ValueType::FLOAT64: v.f = r.read<double>(key.c_str()); break;
        case ValueType::BOOL: {
            const uint8_t b = r.read<uint8_t>(key.c_str());
            if (b > 1) fail("metadata ", key, ": bool value ", int(b), " is neither 0 nor 1");
            v.u = b;
            v.i = b;
            break;
        }
        case ValueType::STRING: v.str = r.string(key.c_str()); break;
        case ValueType::ARRAY: {
            if (depth >= kMaxArrayDepth) fail("metadata ", key, ": arrays nested too deeply");
            const uint32_t et = r.read<uint32_t>(key.c_str());
            if (!valid_value_type(et)) fail("metadata ", key, ": unknown array element type ", et);
            v.elem_type = ValueType(et);
            v.count = r.read<uint64_t>(key.c_str());
            if (v.elem_type == ValueType::STRING) {
                // Each string needs at least its 8-byte length: reject counts the file cannot hold
                // before reserving memory for them.
                if (v.count > r.remaining() / 8)
                    fail("metadata ", key, ": array count ", v.count, " exceeds the file");
                v.strings.reserve(capped(v.count));
                for (uint64_t k = 0; k < v.count; ++k) v.strings.push_back(r.string(key.c_str()));
            } else if (v.elem_type == ValueType::ARRAY) {
                if (v.count > r.remaining() / 12)
                    fail("metadata ", key, ": array count ", v.count, " exceeds the file");
                v.items.reserve(capped(v.count));
                for (uint64_t k = 0; k < v.count; ++k)
                    v.items.push_back(read_value(r, ValueType::ARRAY, key, depth + 1));
            } else {
                const size_t es = value_type_size(v.elem_type);
                if (v.count > r.remaining() / es)
                    fail("metadata ", key, ": array count ", v.count, " exceeds the file");
                v.raw = r.take(v.count * es, key.c_str());
                if (v.elem_type == ValueType::BOOL) {
                    for (uint64_t k = 0; k < v.count; ++k)
                        if (v.raw[k] > 1) fail("metadata ", key, ": bool element is neither 0 nor 1");
                }
            }
            break;
        }
    }
    return v;
}

}  // namespace

size_t value_type_size(ValueType t) {
    switch (t) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
        case ValueType::UINT16: case ValueType::INT16: return 2;
        case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
        case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
        default: return 0;
    }
}

const char* value_type_name(ValueType t) {
    static constexpr const char* names[] = {"uint8", "int8",  "uint16", "int16", "uint32",
                                            "int32", "float32", "bool",  "string", "array",
                                            "uint64", "int64", "float64"};
    const uint32_t i = uint32_t(t);
    return i < 13 ? names[i] : "unknown";
}

bool Value::is_integer() const {
    switch (type) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
        case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
            return true;
        default: return false;
    }
}

double Value::number_at(uint64_t index) const {
    if (!raw || index >= count) fail("array index ", index, " out of range (", count, " numeric elements)");
    const uint8_t* p = raw + index * value_type_size(elem_type);
    switch (elem_type) {
        case ValueType::FLOAT32: { float x; std::memcpy(&x, p, 4); return x; }
        case ValueType::FLOAT64: { double x; std::memcpy(&x, p, 8); return x; }
        case ValueType::UINT64: { uint64_t x; std::memcpy(&x, p, 8); return double(x); }
        default: return double(integer_at(index));
    }
}

int64_t Value::integer_at(uint64_t index) const {
    if (!raw || index >= count) fail("array index ", index, " out of range (", count, " numeric elements)");
    const uint8_t* p = raw + index * value_type_size(elem_type);
    switch (elem_type) {
        case ValueType::UINT8: case ValueType::BOOL: return *p;
        case ValueType::INT8: return int8_t(*p);
        case ValueType::UINT16: { uint16_t x; std::memcpy(&x, p, 2); return x; }
        case ValueType::INT16: { int16_t x; std::memcpy(&x, p, 2); return x; }
        case ValueType::UINT32: { uint32_t x; std::memcpy(&x, p, 4); return x; }
        case ValueType::INT32: { int32_t x; std::memcpy(&x, p, 4); return x; }
        case ValueType::UINT64: case ValueType::INT64: { int64_t x; std::memcpy(&x, p, 8); return x; }
        case ValueType::FLOAT32: { float x; std::memcpy(&x, p, 4); return saturate_to_i64(x); }
        case ValueType::FLOAT64: { double x; std::memcpy(&x, p, 8); return saturate_to_i64(x); }
        default: return 0;
    }
}

std::unique_ptr<File> File::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, ": cannot open: ", std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(path, ": not a regular file");
    }
    const size_t size = size_t(st.st_size);
    if (size == 0) {
        ::close(fd);
        fail(path, ": not a GGUF file (it is empty)");
    }
    void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) fail(path, ": cannot map the file: ", std::strerror(errno));
    std::unique_ptr<File> f(new File());
    f->path_ = path;
    f->mapping_ = map;
    f->data_ = static_cast<const uint8_t*>(map);
    f->size_ = size;
    f->loaded_ = size;
    try {
        f->parse_all();
    } catch (const Error& e) {
        fail(path, ": ", e.what());
    } catch (const std::bad_alloc&) {
        fail(path, ": out of memory while reading its metadata");
    }
    return f;
}

std::unique_ptr<File> File::parse(const uint8_t* data, size_t size) {
    std::unique_ptr<File> f(new File());
    f->path_ = "<memory>";
    f->data_ = data;
    f->size_ = size;
    f->loaded_ = size;
    try {
        f->parse_all();
    } catch (const std::bad_alloc&) {
        fail("out of memory while reading GGUF metadata");
    }
    return f;
}

std::unique_ptr<File> File::read_header(const ReadAt& read, uint64_t file_size, size_t first_chunk,
                                        const std::string& path) {
    if (file_size == 0) fail("not a GGUF file (it is empty)");
    // The header's size is only known once it is parsed: read a chunk, parse, and when the parse
    // runs past what was read, read at least twice as much and parse again (a Llama 3 header with
    // its 128K-token vocabulary is ~8 MB: a few rounds). The bytes already read are kept.
    std::vector<uint8_t> buf;
    uint64_t want = std::min<uint64_t>(file_size, std::max<size_t>(first_chunk, 1));
    for (;;) {
        const size_t have = buf.size();
        buf.resize(size_t(want));
        read(have, buf.data() + have, buf.size() - have);
        std::unique_ptr<File> f(new File());
        f->path_ = path;
        f->header_only_ = true;
        f->size_ = size_t(file_size);
        f->loaded_ = buf.size();
        f->data_ = buf.data();
        f->bytes_read_ = buf.size();
        try {
            f->parse_all();
        } catch (const NeedMore& more) {
            // take() checked the file's end first, so more.needed <= file_size: each round grows.
            if (more.needed > kMaxHeaderBytes)
                fail("the header (metadata and tensor table) is larger than ", kMaxHeaderBytes >> 20,
                     " MiB, more than any real model's");
            want = std::min<uint64_t>(file_size, std::max<uint64_t>(more.needed, want * 2));
            want = std::min<uint64_t>(want, kMaxHeaderBytes);
            continue;
        } catch (const std::bad_alloc&) {
            fail("out of memory while reading GGUF metadata");
        }
        // The views into the buffer stay valid: moving a vector keeps its storage.
        f->header_ = std::move(buf);
        return f;
    }
}

std::unique_ptr<File> File::open_header(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, ": cannot open: ", std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) fail(path, ": not a regular file");
    const uint64_t size = uint64_t(st.st_size);
    const auto read_at = [&](uint64_t offset, uint8_t* dst, size_t n) {
        while (n > 0) {
            const ssize_t got = ::pread(fd, dst, n, off_t(offset));
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) fail("cannot read: ", std::strerror(errno));
            if (got == 0) fail("file ends at offset ", offset, " (it shrank while being read)");
            dst += got;
            offset += uint64_t(got);
            n -= size_t(got);
        }
    };
    try {
        return read_header(read_at, size, size_t(256) << 10, path);
    } catch (const Error& e) {
        fail(path, ": ", e.what());
    }
}

std::unique_ptr<File> File::parse_header(const uint8_t* data, size_t size) {
    const auto read_at = [&](uint64_t offset, uint8_t* dst, size_t n) {
        if (offset > size || n > size - offset) fail("read past the end of the buffer");
        if (n > 0) std::memcpy(dst, data + offset, n);
    };
    return read_header(read_at, size, 64, "<memory>");
}

File::~File() {
    if (mapping_) munmap(mapping_, size_);
}

void File::parse_all() {
    Reader r(data_, size_, loaded_);
    if (size_ < 4) fail("not a GGUF file (", size_, " bytes)");
    const uint32_t magic = r.read<uint32_t>("magic");
    if (magic != kMagic) fail("not a GGUF file (bad magic)");
    version_ = r.read<uint32_t>("version");
    if (version_ != 0 && (version_ & 0xFFFF) == 0)
        fail("unsupported GGUF version ", version_, " (a big-endian file? only little-endian 2 and 3 are supported)");
    if (version_ == 1) fail("GGUF version 1 is not supported (only 2 and 3)");
    if (version_ != 2 && version_ != 3) fail("unsupported GGUF version ", version_, " (only 2 and 3)");
    const uint64_t n_tensors = r.read<uint64_t>("tensor count");
    const uint64_t n_kv = r.read<uint64_t>("metadata count");
    // A key-value needs at least 8 (key length) + 4 (type) + 1 bytes; a tensor info 8+4+8+4+8.
    if (n_kv > r.remaining() / 13) fail("metadata count ", n_kv, " exceeds the file");
    if (n_tensors > r.remaining() / 32) fail("tensor count ", n_tensors, " exceeds the file");

    std::unordered_set<std::string_view> keys;
    kv_.reserve(capped(n_kv));
    for (uint64_t k = 0; k < n_kv; ++k) {
        KeyValue kv;
        kv.key = r.string("metadata key");
        if (kv.key.empty()) fail("metadata key ", k, " is empty");
        if (!keys.insert(kv.key).second) fail("duplicate metadata key ", kv.key);
        const uint32_t t = r.read<uint32_t>("metadata type");
        if (!valid_value_type(t)) fail("metadata ", kv.key, " has unknown type ", t);
        kv.value = read_value(r, ValueType(t), std::string(kv.key), 0);
        kv_.push_back(std::move(kv));
    }

    if (const Value* a = find("general.alignment")) {
        if (!a->is_integer()) fail("general.alignment is not an integer");
        const bool negative = a->i < 0 && a->type != ValueType::UINT64;
        if (negative || a->u == 0 || (a->u & (a->u - 1)) != 0)
            fail("general.alignment ", negative ? std::to_string(a->i) : std::to_string(a->u),
                 " is not a power of two");
        if (a->u > (1u << 20)) fail("general.alignment ", a->u, " is too large (at most 1 MiB)");
        alignment_ = a->u;
    }

    std::unordered_set<std::string> names;
    tensors_.reserve(capped(n_tensors));
    for (uint64_t k = 0; k < n_tensors; ++k) {
        TensorInfo t;
        t.name = std::string(r.string("tensor name"));
        if (t.name.empty()) fail("tensor ", k, " has an empty name");
        if (!names.insert(t.name).second) fail("duplicate tensor ", t.name);
        const uint32_t n_dims = r.read<uint32_t>("tensor dimension count");
        if (n_dims == 0 || n_dims > kMaxDims)
            fail("tensor ", t.name, " has ", n_dims, " dimensions (1 to ", kMaxDims, " allowed)");
        int64_t nel = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const int64_t ne = r.read<int64_t>("tensor shape");
            if (ne <= 0) fail("tensor ", t.name, " has dimension ", d, " of size ", ne);
            if (nel > std::numeric_limits<int64_t>::max() / ne)
                fail("tensor ", t.name, " has too many elements");
            nel *= ne;
            t.ne.push_back(ne);
        }
        t.nelements = nel;
        const uint32_t type = r.read<uint32_t>("tensor type");
        const TypeTraits* tt = type_traits(type);
        if (!tt) fail("tensor ", t.name, " has unknown type id ", type);
        t.type = GgmlType(type);
        if (t.ne[0] % tt->block_size != 0)
            fail("tensor ", t.name, ": first dimension ", t.ne[0], " is not a multiple of the ",
                 tt->name, " block size ", tt->block_size);
        const uint64_t blocks = uint64_t(nel / tt->block_size);
        if (blocks > std::numeric_limits<uint64_t>::max() / tt->type_size)
            fail("tensor ", t.name, " is too large");
        t.nbytes = blocks * tt->type_size;
        t.offset = r.read<uint64_t>("tensor offset");
        if (t.offset % alignment_ != 0)
            fail("tensor ", t.name, " offset ", t.offset, " is not aligned to ", alignment_);
        tensors_.push_back(std::move(t));
    }

    data_offset_ = (r.pos() + alignment_ - 1) / alignment_ * alignment_;
    // A header-only read reports missing tensor data instead of failing: the header still says
    // what the model is (a listing shows it as an interrupted download).
    const auto data_error = [this](const auto&... parts) {
        if (!header_only_) fail(parts...);
        if (data_problem_.empty()) {
            std::ostringstream os;
            (os << ... << parts);
            data_problem_ = os.str();
        }
    };
    if (data_offset_ > size_ && !tensors_.empty())
        data_error("file ends before its tensor data (data section would start at offset ", data_offset_,
                   ", file is ", size_, " bytes)");
    const uint64_t data_size = size_ > data_offset_ ? size_ - data_offset_ : 0;

    // Tensors must lie inside the data section and must not overlap each other.
    struct Span {
        uint64_t begin, end;
        size_t index;
    };
    std::vector<Span> spans;
    spans.reserve(tensors_.size());
    for (size_t k = 0; k < tensors_.size(); ++k) {
        TensorInfo& t = tensors_[k];
        if (t.offset > data_size || t.nbytes > data_size - t.offset)
            data_error("tensor ", t.name, " (", t.nbytes, " bytes at data offset ", t.offset,
                       ") lies outside the file (data section is ", data_size, " bytes)");
        if (!header_only_) t.data = data_ + data_offset_ + t.offset;
        // offset + nbytes may wrap only in a header-only read of a hostile file: the overlap
        // check below must not see a wrapped end.
        if (t.offset > std::numeric_limits<uint64_t>::max() - t.nbytes)
            fail("tensor ", t.name, " (", t.nbytes, " bytes at data offset ", t.offset, ") is past any file's end");
        spans.push_back({t.offset, t.offset + t.nbytes, k});
    }
    std::sort(spans.begin(), spans.end(),
              [](const Span& a, const Span& b) { return a.begin < b.begin || (a.begin == b.begin && a.index < b.index); });
    for (size_t k = 1; k < spans.size(); ++k) {
        const Span& prev = spans[k - 1];
        const Span& cur = spans[k];
        if (cur.begin < prev.end)
            fail("tensor ", tensors_[cur.index].name, " (data bytes ", cur.begin, "..", cur.end,
                 ") overlaps tensor ", tensors_[prev.index].name, " (", prev.begin, "..", prev.end, ")");
    }
}

const Value* File::find(std::string_view key) const {
    for (const KeyValue& kv : kv_)
        if (kv.key == key) return &kv.value;
    return nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    for (const TensorInfo& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

std::optional<uint64_t> File::get_u64(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_integer()) fail("metadata ", key, " should be an integer, is ", value_type_name(v->type));
    if (v->i < 0 && v->type != ValueType::UINT64) fail("metadata ", key, " is negative (", v->i, ")");
    return v->u;
}

std::optional<int64_t> File::get_i64(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_integer()) fail("metadata ", key, " should be an integer, is ", value_type_name(v->type));
    return v->i;
}

std::optional<double> File::get_f64(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_float()) return v->f;
    if (v->is_integer()) return double(v->i);
    fail("metadata ", key, " should be a number, is ", value_type_name(v->type));
}

std::optional<bool> File::get_bool(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != ValueType::BOOL) fail("metadata ", key, " should be a bool, is ", value_type_name(v->type));
    return v->u != 0;
}

std::optional<std::string_view> File::get_string(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != ValueType::STRING) fail("metadata ", key, " should be a string, is ", value_type_name(v->type));
    return v->str;
}

const std::vector<std::string_view>* File::get_string_array(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return nullptr;
    if (v->type != ValueType::ARRAY || v->elem_type != ValueType::STRING)
        fail("metadata ", key, " should be an array of strings");
    return &v->strings;
}

std::vector<float> File::get_f32_array(std::string_view key) const {
    const Value* v = find(key);
    std::vector<float> out;
    if (!v) return out;
    if (v->type != ValueType::ARRAY || !v->raw) fail("metadata ", key, " should be a numeric array");
    out.resize(size_t(v->count));
    for (uint64_t k = 0; k < v->count; ++k) out[k] = float(v->number_at(k));
    return out;
}

std::vector<int32_t> File::get_i32_array(std::string_view key) const {
    const Value* v = find(key);
    std::vector<int32_t> out;
    if (!v) return out;
    if (v->type != ValueType::ARRAY || !v->raw) fail("metadata ", key, " should be a numeric array");
    out.resize(size_t(v->count));
    for (uint64_t k = 0; k < v->count; ++k) out[k] = int32_t(v->integer_at(k));
    return out;
}

}  // namespace ld::gguf
