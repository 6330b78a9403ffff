#pragma once
// GGUF v3 writer. Tensor data can be given as bytes or produced lazily, one tensor at a time,
// while the file is written (quantizing an 8B model never holds two copies in memory).
// The file is written to PATH.tmp, flushed, fsynced and renamed, so a crash or full disk never
// leaves a half-written model under the final name.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "inference/gguf/gguf.h"

namespace ld::gguf {

class Writer {
public:
    using Producer = std::function<void(uint8_t* dst)>;  // fills exactly nbytes

    void set_u32(const std::string& key, uint32_t v);
    void set_i32(const std::string& key, int32_t v);
    void set_u64(const std::string& key, uint64_t v);
    void set_f32(const std::string& key, float v);
    void set_bool(const std::string& key, bool v);
    void set_string(const std::string& key, const std::string& v);
    void set_string_array(const std::string& key, const std::vector<std::string>& v);
    void set_f32_array(const std::string& key, const std::vector<float>& v);
    void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
    // Copies a key-value read from another file (any type, arrays included). Replaces an
    // existing key of the same name.
    void copy(const KeyValue& kv);
    void remove(const std::string& key);

    // data must stay valid until write() returns.
    void add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                    const void* data);
    void add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                    Producer produce);

    // Throws ld::Error (e.g. "disk full") after removing the temporary file.
    void write(const std::string& path, uint32_t alignment = 32) const;

private:
    struct Entry {
        std::string key;
        std::vector<uint8_t> encoded;  // type + value, GGUF encoding
    };
    struct Tensor {
        std::string name;
        GgmlType type;
        std::vector<int64_t> ne;
        uint64_t nbytes;
        const void* data;
        Producer produce;
    };
    void put(const std::string& key, std::vector<uint8_t> encoded);
    std::vector<Entry> kv_;
    std::vector<Tensor> tensors_;
};

}  // namespace ld::gguf
