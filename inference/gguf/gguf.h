#pragma once
// GGUF v2/v3 reader. The file is memory-mapped; every count, length, offset, type and size is
// validated before use, and any problem throws ld::Error naming it (a hostile file never
// crashes the reader). Tensor data is only pointed at, never copied.
//
// File::open_header reads only the header (metadata and tensor table) with plain reads, for
// listing models: it never maps or reads tensor data, so a file whose data is truncated still
// describes itself (data_problem() says what is missing).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inference/core/error.h"
#include "inference/quant/types.h"

namespace ld::gguf {

enum class ValueType : uint32_t {
    UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* value_type_name(ValueType t);
// Bytes of one value of a fixed-size type; 0 for STRING and ARRAY (the reader and the writer).
size_t value_type_size(ValueType t);

struct Value {
    ValueType type = ValueType::UINT8;
    // Scalars: integers widen to i64/u64, floats to double.
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0.0;
    std::string_view str;             // STRING (points into the mapped file)
    // ARRAY: element type and elements. Numeric arrays keep a pointer to the raw little-endian
    // elements (possibly unaligned); string arrays are split into views; nested arrays recurse.
    ValueType elem_type = ValueType::UINT8;
    uint64_t count = 0;
    const uint8_t* raw = nullptr;
    std::vector<std::string_view> strings;
    std::vector<Value> items;         // nested arrays only

    bool is_integer() const;
    bool is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }
    // Numeric array element as double / i64 (index < count, numeric elem_type).
    double number_at(uint64_t index) const;
    int64_t integer_at(uint64_t index) const;
};

struct KeyValue {
    std::string_view key;
    Value value;
};

struct TensorInfo {
    std::string name;
    GgmlType type = GgmlType::F32;
    std::vector<int64_t> ne;          // dims, ne[0] fastest (ggml order)
    uint64_t offset = 0;              // relative to the data section
    uint64_t nbytes = 0;
    int64_t nelements = 0;
    const uint8_t* data = nullptr;    // inside the mapping; nullptr for a header-only File

    int64_t dim(size_t i) const { return i < ne.size() ? ne[i] : 1; }
};

class File {
public:
    // Maps and validates a file. Throws ld::Error with the path and the problem.
    static std::unique_ptr<File> open(const std::string& path);
    // Parses a buffer the caller keeps alive (fuzzing, tests). Throws ld::Error.
    static std::unique_ptr<File> parse(const uint8_t* data, size_t size);
    // Reads the header only (metadata and tensor table), in growing chunks, never more than the
    // header needs and at most kMaxHeaderBytes. Every tensor's data is nullptr; a tensor lying
    // past the end of the file is not an error here but reported by data_problem(). Throws
    // ld::Error (with the path) when the header itself is malformed or unreadable.
    static std::unique_ptr<File> open_header(const std::string& path);
    // The same over a buffer (fuzzing, tests): starts with a tiny chunk so the growing path runs.
    static std::unique_ptr<File> parse_header(const uint8_t* data, size_t size);
    static constexpr uint64_t kMaxHeaderBytes = 256ull << 20;
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    size_t size() const { return size_; }
    const uint8_t* bytes() const { return data_; }
    const std::string& path() const { return path_; }
    // Header-only files (open_header): no tensor data, size() is the file's size, bytes() holds
    // only the first bytes_read() bytes.
    bool has_tensor_data() const { return !header_only_; }
    uint64_t bytes_read() const { return bytes_read_; }
    // Empty when every tensor's data lies inside the file (always empty for open/parse, which
    // throw instead); otherwise why it does not, e.g. a truncated download.
    const std::string& data_problem() const { return data_problem_; }

    const std::vector<KeyValue>& metadata() const { return kv_; }
    const Value* find(std::string_view key) const;
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;

    // Typed look-ups: nullopt when absent; ld::Error when present with an incompatible type.
    std::optional<uint64_t> get_u64(std::string_view key) const;  // any non-negative integer
    std::optional<int64_t> get_i64(std::string_view key) const;
    std::optional<double> get_f64(std::string_view key) const;    // float or integer
    std::optional<bool> get_bool(std::string_view key) const;
    std::optional<std::string_view> get_string(std::string_view key) const;
    // Arrays: nullptr when absent; ld::Error when not an array of the right kind.
    const std::vector<std::string_view>* get_string_array(std::string_view key) const;
    std::vector<float> get_f32_array(std::string_view key) const;       // empty when absent
    std::vector<int32_t> get_i32_array(std::string_view key) const;     // empty when absent

private:
    File() = default;
    void parse_all();
    // Reads up to `n` bytes at `offset` into `dst`, or throws ld::Error.
    using ReadAt = std::function<void(uint64_t offset, uint8_t* dst, size_t n)>;
    static std::unique_ptr<File> read_header(const ReadAt& read, uint64_t file_size, size_t first_chunk,
                                             const std::string& path);

    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    void* mapping_ = nullptr;         // munmap on destruction when non-null
    bool header_only_ = false;
    size_t loaded_ = 0;               // bytes of data_ that exist (== size_ unless header-only)
    uint64_t bytes_read_ = 0;
    std::vector<uint8_t> header_;     // a header-only file's bytes
    std::string data_problem_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<KeyValue> kv_;
    std::vector<TensorInfo> tensors_;
};

}  // namespace ld::gguf
