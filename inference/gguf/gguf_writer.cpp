#include "inference/gguf/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

namespace ld::gguf {

static_assert(std::endian::native == std::endian::little,
              "GGUF is little-endian; the writer copies values as they lie in memory");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF"
constexpr uint32_t kVersion = 3;
constexpr uint32_t kDefaultAlignment = 32;
// ggml keeps tensor names in a 64-byte buffer including the terminator; llama.cpp rejects longer.
constexpr size_t kMaxTensorName = 63;
constexpr size_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 4;  // the reader's limit

template <typename T>
void put_raw(std::vector<uint8_t>& out, T v) {
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
    put_raw<uint64_t>(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
}

// Appends an array body (element type, count, elements) as GGUF stores it after the ARRAY tag.
void put_array_body(std::vector<uint8_t>& out, const Value& v, const std::string& key, int depth);

// Appends a value's payload (without its type tag).
void put_payload(std::vector<uint8_t>& out, const Value& v, const std::string& key, int depth) {
    switch (v.type) {
        case ValueType::UINT8: put_raw<uint8_t>(out, uint8_t(v.u)); break;
        case ValueType::INT8: put_raw<int8_t>(out, int8_t(v.i)); break;
        case ValueType::UINT16: put_raw<uint16_t>(out, uint16_t(v.u)); break;
        case ValueType::INT16: put_raw<int16_t>(out, int16_t(v.i)); break;
        case ValueType::UINT32: put_raw<uint32_t>(out, uint32_t(v.u)); break;
        case ValueType::INT32: put_raw<int32_t>(out, int32_t(v.i)); break;
        case ValueType::UINT64: put_raw<uint64_t>(out, v.u); break;
        case ValueType::INT64: put_raw<int64_t>(out, v.i); break;
        case ValueType::FLOAT32: put_raw<float>(out, float(v.f)); break;
        case ValueType::FLOAT64: put_raw<double>(out, v.f); break;
        case ValueType::BOOL: put_raw<uint8_t>(out, v.u != 0 ? 1 : 0); break;
        case ValueType::STRING: put_string(out, v.str); break;
        case ValueType::ARRAY: put_array_body(out, v, key, depth); break;
        default: fail("metadata ", key, ": unknown value type ", uint32_t(v.type));
    }
}

void put_array_body(std::vector<uint8_t>& out, const Value& v, const std::string& key, int depth) {
    if (depth >= kMaxArrayDepth) fail("metadata ", key, ": arrays nested too deeply");
    put_raw<uint32_t>(out, uint32_t(v.elem_type));
    switch (v.elem_type) {
        case ValueType::STRING:
            if (v.count != v.strings.size())
                fail("metadata ", key, ": string array count ", v.count, " but ", v.strings.size(),
                     " strings");
            put_raw<uint64_t>(out, v.count);
            for (std::string_view s : v.strings) put_string(out, s);
            break;
        case ValueType::ARRAY:
            if (v.count != v.items.size())
                fail("metadata ", key, ": nested array count ", v.count, " but ", v.items.size(),
                     " items");
            put_raw<uint64_t>(out, v.count);
            for (const Value& item : v.items) {
                if (item.type != ValueType::ARRAY)
                    fail("metadata ", key, ": item of a nested array is not an array");
                put_array_body(out, item, key, depth + 1);
            }
            break;
        default: {
            const size_t es = value_type_size(v.elem_type);
            if (es == 0) fail("metadata ", key, ": unknown array element type ", uint32_t(v.elem_type));
            if (v.count > 0 && !v.raw) fail("metadata ", key, ": array has no element data");
            if (v.count > std::numeric_limits<size_t>::max() / 2 / es)
                fail("metadata ", key, ": array of ", v.count, " elements is too large");
            put_raw<uint64_t>(out, v.count);
            if (v.count > 0) out.insert(out.end(), v.raw, v.raw + v.count * es);
            if (v.elem_type == ValueType::BOOL) {
                // Keep the file readable by strict readers: bools are stored as 0 or 1 only.
                for (size_t k = out.size() - size_t(v.count); k < out.size(); ++k)
                    out[k] = out[k] != 0 ? 1 : 0;
            }
            break;
        }
    }
}

template <typename T>
std::vector<uint8_t> scalar(ValueType type, T v) {
    std::vector<uint8_t> out;
    put_raw<uint32_t>(out, uint32_t(type));
    put_raw<T>(out, v);
    return out;
}

template <typename T>
std::vector<uint8_t> numeric_array(ValueType elem, const std::vector<T>& v) {
    std::vector<uint8_t> out;
    put_raw<uint32_t>(out, uint32_t(ValueType::ARRAY));
    put_raw<uint32_t>(out, uint32_t(elem));
    put_raw<uint64_t>(out, v.size());
    // resize + memcpy rather than insert(): GCC 12 warns falsely (-Warray-bounds) on the insert.
    const size_t head = out.size(), bytes = v.size() * sizeof(T);
    out.resize(head + bytes);
    if (bytes) std::memcpy(out.data() + head, v.data(), bytes);
    return out;
}

// The checks the reader applies to a tensor info, so that a file this writer accepts also reads.
uint64_t checked_nbytes(const std::string& name, GgmlType type, const std::vector<int64_t>& ne) {
    if (name.empty()) fail("tensor name is empty");
    if (name.size() > kMaxTensorName)
        fail("tensor name ", name, " is longer than ", kMaxTensorName, " bytes");
    const TypeTraits* tt = type_traits(uint32_t(type));
    if (!tt) fail("tensor ", name, " has unknown type id ", uint32_t(type));
    if (ne.empty() || ne.size() > kMaxDims)
        fail("tensor ", name, " has ", ne.size(), " dimensions (1 to ", kMaxDims, " allowed)");
    int64_t nel = 1;
    for (size_t d = 0; d < ne.size(); ++d) {
        if (ne[d] <= 0) fail("tensor ", name, " has dimension ", d, " of size ", ne[d]);
        if (nel > std::numeric_limits<int64_t>::max() / ne[d])
            fail("tensor ", name, " has too many elements");
        nel *= ne[d];
    }
    if (ne[0] % tt->block_size != 0)
        fail("tensor ", name, ": first dimension ", ne[0], " is not a multiple of the ", tt->name,
             " block size ", tt->block_size);
    const uint64_t blocks = uint64_t(nel / tt->block_size);
    if (blocks > std::numeric_limits<uint64_t>::max() / 2 / tt->type_size)
        fail("tensor ", name, " is too large");
    return blocks * tt->type_size;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Buffered writes to a file descriptor. Every failure throws with the path and the reason so the
// caller only has to clean up; ENOSPC gets the wording a user recognises.
class Output {
public:
    Output(int fd, std::string path) : fd_(fd), path_(std::move(path)) { buf_.reserve(kBuffer); }

    void write(const void* data, size_t n) {
        const auto* p = static_cast<const uint8_t*>(data);
        if (buf_.size() + n <= kBuffer) {
            buf_.insert(buf_.end(), p, p + n);
            return;
        }
        flush();
        if (n < kBuffer) buf_.insert(buf_.end(), p, p + n);
        else raw_write(p, n);  // tensor data goes straight out, no second copy
    }
    void zeros(size_t n) {
        static const uint8_t zero[64] = {};
        while (n > 0) {
            const size_t k = std::min(n, sizeof(zero));
            write(zero, k);
            n -= k;
        }
    }
    void flush() {
        raw_write(buf_.data(), buf_.size());
        buf_.clear();
    }
    uint64_t position() const { return written_ + buf_.size(); }

    [[noreturn]] void io_fail(const char* doing, int err) const {
        if (err == ENOSPC)
            fail("disk full while writing ", path_, " (", written_, " bytes written)");
        if (err == EDQUOT)
            fail("disk quota exceeded while writing ", path_, " (", written_, " bytes written)");
        fail("cannot ", doing, " ", path_, ": ", std::strerror(err));
    }

private:
    static constexpr size_t kBuffer = 1 << 20;

    void raw_write(const uint8_t* p, size_t n) {
        while (n > 0) {
            const ssize_t k = ::write(fd_, p, std::min<size_t>(n, 1u << 30));
            if (k < 0) {
                if (errno == EINTR) continue;
                io_fail("write", errno);
            }
            if (k == 0) io_fail("write", ENOSPC);  // no progress and no error: treat as full
            p += k;
            n -= size_t(k);
            written_ += uint64_t(k);
        }
    }

    int fd_;
    std::string path_;
    std::vector<uint8_t> buf_;
    uint64_t written_ = 0;
};

}  // namespace

void Writer::put(const std::string& key, std::vector<uint8_t> encoded) {
    if (key.empty()) fail("metadata key is empty");
    for (Entry& e : kv_) {
        if (e.key == key) {
            e.encoded = std::move(encoded);
            return;
        }
    }
    kv_.push_back({key, std::move(encoded)});
}

void Writer::set_u32(const std::string& key, uint32_t v) { put(key, scalar(ValueType::UINT32, v)); }
void Writer::set_i32(const std::string& key, int32_t v) { put(key, scalar(ValueType::INT32, v)); }
void Writer::set_u64(const std::string& key, uint64_t v) { put(key, scalar(ValueType::UINT64, v)); }
void Writer::set_f32(const std::string& key, float v) { put(key, scalar(ValueType::FLOAT32, v)); }
void Writer::set_bool(const std::string& key, bool v) {
    put(key, scalar<uint8_t>(ValueType::BOOL, v ? 1 : 0));
}

void Writer::set_string(const std::string& key, const std::string& v) {
    std::vector<uint8_t> out;
    put_raw<uint32_t>(out, uint32_t(ValueType::STRING));
    put_string(out, v);
    put(key, std::move(out));
}

void Writer::set_string_array(const std::string& key, const std::vector<std::string>& v) {
    std::vector<uint8_t> out;
    put_raw<uint32_t>(out, uint32_t(ValueType::ARRAY));
    put_raw<uint32_t>(out, uint32_t(ValueType::STRING));
    put_raw<uint64_t>(out, v.size());
    for (const std::string& s : v) put_string(out, s);
    put(key, std::move(out));
}

void Writer::set_f32_array(const std::string& key, const std::vector<float>& v) {
    put(key, numeric_array(ValueType::FLOAT32, v));
}

void Writer::set_i32_array(const std::string& key, const std::vector<int32_t>& v) {
    put(key, numeric_array(ValueType::INT32, v));
}

void Writer::copy(const KeyValue& kv) {
    const std::string key(kv.key);
    std::vector<uint8_t> out;
    put_raw<uint32_t>(out, uint32_t(kv.value.type));
    put_payload(out, kv.value, key, 0);
    put(key, std::move(out));
}

void Writer::remove(const std::string& key) {
    kv_.erase(std::remove_if(kv_.begin(), kv_.end(), [&](const Entry& e) { return e.key == key; }),
              kv_.end());
}

void Writer::add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                        const void* data) {
    if (!data) fail("tensor ", name, ": no data given");
    const uint64_t nbytes = checked_nbytes(name, type, ne);
    for (const Tensor& t : tensors_)
        if (t.name == name) fail("duplicate tensor ", name);
    tensors_.push_back({name, type, ne, nbytes, data, Producer{}});
}

void Writer::add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                        Producer produce) {
    if (!produce) fail("tensor ", name, ": no producer given");
    const uint64_t nbytes = checked_nbytes(name, type, ne);
    for (const Tensor& t : tensors_)
        if (t.name == name) fail("duplicate tensor ", name);
    tensors_.push_back({name, type, ne, nbytes, nullptr, std::move(produce)});
}

void Writer::write(const std::string& path, uint32_t alignment) const {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 20))
        fail("cannot write ", path, ": alignment ", alignment, " is not a power of two up to 1 MiB");
    for (const Tensor& t : tensors_)
        if (!t.data && !t.produce) fail("tensor ", t.name, " has neither data nor a producer");

    // The alignment parameter decides the layout, so it also decides the key that records it:
    // a general.alignment key given (copied from another file) keeps its place but states this
    // alignment; without one, the key is added only when a reader could not assume the default.
    const Entry align_entry{"general.alignment", scalar(ValueType::UINT32, alignment)};
    std::vector<const Entry*> entries;
    bool have_align_key = false;
    for (const Entry& e : kv_) {
        if (e.key == align_entry.key) {
            entries.push_back(&align_entry);
            have_align_key = true;
        } else {
            entries.push_back(&e);
        }
    }
    if (!have_align_key && alignment != kDefaultAlignment) entries.push_back(&align_entry);

    // Offsets relative to the data section, each tensor starting on an alignment boundary.
    std::vector<uint64_t> offsets;
    offsets.reserve(tensors_.size());
    uint64_t data_size = 0;
    size_t largest_produced = 0;
    for (const Tensor& t : tensors_) {
        const uint64_t off = align_up(data_size, alignment);
        offsets.push_back(off);
        if (t.nbytes > std::numeric_limits<uint64_t>::max() / 2 - off)
            fail("cannot write ", path, ": tensor data is too large");
        data_size = off + t.nbytes;
        if (!t.data) {
            if (t.nbytes > std::numeric_limits<size_t>::max() / 2)
                fail("tensor ", t.name, " is too large to produce in memory");
            largest_produced = std::max(largest_produced, size_t(t.nbytes));
        }
    }

    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("cannot create ", tmp, ": ", std::strerror(errno));
    bool closed = false;
    try {
        Output out(fd, tmp);
        auto u32 = [&](uint32_t v) { out.write(&v, 4); };
        auto u64 = [&](uint64_t v) { out.write(&v, 8); };
        auto str = [&](std::string_view s) {
            u64(s.size());
            out.write(s.data(), s.size());
        };

        u32(kMagic);
        u32(kVersion);
        u64(tensors_.size());
        u64(entries.size());
        for (const Entry* e : entries) {
            str(e->key);
            out.write(e->encoded.data(), e->encoded.size());
        }
        for (size_t k = 0; k < tensors_.size(); ++k) {
            const Tensor& t = tensors_[k];
            str(t.name);
            u32(uint32_t(t.ne.size()));
            for (int64_t n : t.ne) out.write(&n, 8);
            u32(uint32_t(t.type));
            u64(offsets[k]);
        }
        const uint64_t data_start = align_up(out.position(), alignment);
        out.zeros(size_t(data_start - out.position()));

        // One reusable buffer for every produced tensor, plus a guard tail that tells a producer
        // writing past nbytes apart from silent heap corruption.
        constexpr size_t kGuard = 16;
        constexpr uint8_t kGuardByte = 0xA5;
        std::vector<uint8_t> scratch;
        if (largest_produced > 0) scratch.resize(largest_produced + kGuard);
        for (size_t k = 0; k < tensors_.size(); ++k) {
            const Tensor& t = tensors_[k];
            out.zeros(size_t(data_start + offsets[k] - out.position()));
            if (t.data) {
                out.write(t.data, size_t(t.nbytes));
                continue;
            }
            std::fill(scratch.begin() + ptrdiff_t(t.nbytes),
                      scratch.begin() + ptrdiff_t(t.nbytes + kGuard), kGuardByte);
            t.produce(scratch.data());
            for (size_t g = 0; g < kGuard; ++g)
                if (scratch[size_t(t.nbytes) + g] != kGuardByte)
                    fail("tensor ", t.name, ": producer wrote past its ", t.nbytes, " bytes");
            out.write(scratch.data(), size_t(t.nbytes));
        }
        out.flush();
        if (::fsync(fd) != 0) out.io_fail("sync", errno);
        closed = true;
        // close() can report a deferred write error (NFS, quotas): a file that failed to close is
        // not a file to rename into place.
        if (::close(fd) != 0) out.io_fail("close", errno);
    } catch (...) {
        if (!closed) ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        fail("cannot rename ", tmp, " to ", path, ": ", std::strerror(err));
    }
    // Persist the rename itself; a failure here leaves a complete file, so it is not an error.
    const size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

}  // namespace ld::gguf
