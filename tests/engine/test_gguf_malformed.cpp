// Hostile GGUF corpus: files built field by field from a valid one, each broken in one way.
// Every one must end in ld::Error whose text names the problem: never a crash, a hang or an
// accepted file. Each input is copied into a heap block of exactly its size so that a sanitizer
// build sees any read past the end.
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>

#include "inference/gguf/gguf.h"
#include "inference/gguf/gguf_writer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace ld;
using namespace ld::gguf;

namespace {

constexpr uint32_t kMagic = 0x46554747;
constexpr uint32_t T_U8 = 0, T_U32 = 4, T_I32 = 5, T_F32 = 6, T_BOOL = 7, T_STRING = 8, T_ARRAY = 9;
constexpr uint64_t kHuge = 1ull << 63;

struct Buf {
    std::vector<uint8_t> b;
    template <typename T>
    Buf& put(T v) {
        const size_t at = b.size();
        b.resize(at + sizeof(T));
        std::memcpy(b.data() + at, &v, sizeof(T));
        return *this;
    }
    Buf& u8(uint8_t v) { return put(v); }
    Buf& u32(uint32_t v) { return put(v); }
    Buf& u64(uint64_t v) { return put(v); }
    Buf& i64(int64_t v) { return put(v); }
    Buf& str(std::string_view s) {
        u64(s.size());
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    Buf& append(const Buf& o) {
        b.insert(b.end(), o.b.begin(), o.b.end());
        return *this;
    }
};

struct Kv {
    std::string key;
    uint32_t type;
    Buf payload;                       // everything after the type tag
    std::optional<uint64_t> key_len;   // overrides the key's length prefix
};

struct Ti {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
    uint64_t offset;
    std::optional<uint32_t> n_dims;    // overrides ne.size()
};

// A GGUF file described field by field, so that a test can break exactly one of them.
struct Spec {
    uint32_t magic = kMagic;
    uint32_t version = 3;
    std::optional<uint64_t> n_tensors, n_kv;
    std::vector<Kv> kv;
    std::vector<Ti> tensors;
    uint64_t alignment = 32;           // padding before the data section
    uint64_t data_bytes = 160;         // size of the data section

    std::vector<uint8_t> build() const {
        Buf out;
        out.u32(magic).u32(version);
        out.u64(n_tensors.value_or(tensors.size())).u64(n_kv.value_or(kv.size()));
        for (const Kv& k : kv) {
            out.u64(k.key_len.value_or(k.key.size()));
            out.b.insert(out.b.end(), k.key.begin(), k.key.end());
            out.u32(k.type).append(k.payload);
        }
        for (const Ti& t : tensors) {
            out.str(t.name).u32(t.n_dims.value_or(uint32_t(t.ne.size())));
            for (int64_t n : t.ne) out.i64(n);
            out.u32(t.type).u64(t.offset);
        }
        while (out.b.size() % alignment) out.b.push_back(0);
        for (uint64_t k = 0; k < data_bytes; ++k) out.b.push_back(uint8_t(k));
        return out.b;
    }
};

Kv kv_u32(const std::string& key, uint32_t v) { return {key, T_U32, Buf().u32(v), {}}; }
Kv kv_str(const std::string& key, std::string_view v) { return {key, T_STRING, Buf().str(v), {}}; }

// Valid: three tensors packed at 0, 32 and 128 of a 160-byte data section.
Spec base() {
    Spec s;
    s.kv.push_back(kv_str("general.architecture", "llama"));
    s.kv.push_back(kv_u32("test.u32", 7));
    s.kv.push_back({"test.i32s", T_ARRAY, Buf().u32(T_I32).u64(3).u32(1).u32(2).u32(3), {}});
    s.kv.push_back({"test.strs", T_ARRAY, Buf().u32(T_STRING).u64(2).str("a").str("bc"), {}});
    s.tensors.push_back({"a", {8}, uint32_t(GgmlType::F32), 0, {}});       // 32 bytes
    s.tensors.push_back({"b", {32, 2}, uint32_t(GgmlType::Q8_0), 32, {}});  // 68 bytes
    s.tensors.push_back({"c", {4, 4}, uint32_t(GgmlType::F16), 128, {}});   // 32 bytes
    return s;
}

struct Parsed {
    std::unique_ptr<uint8_t[]> bytes;  // the File points into it
    std::unique_ptr<File> file;
};

Parsed parse_exact(const uint8_t* data, size_t size) {
    // An exact-size heap copy: ASan flags the first byte read past the end.
    Parsed p;
    p.bytes.reset(new uint8_t[size == 0 ? 1 : size]);
    if (size) std::memcpy(p.bytes.get(), data, size);
    p.file = File::parse(p.bytes.get(), size);
    for (const TensorInfo& t : p.file->tensors()) EXPECT_LE(t.data + t.nbytes, p.bytes.get() + size);
    return p;
}

// Returns the error text, or fails the test when the file is accepted.
std::string rejection(const uint8_t* data, size_t size) {
    try {
        parse_exact(data, size);
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "hostile file was accepted";
    return {};
}

void expect_rejected(const uint8_t* data, size_t size, const std::vector<std::string>& needles) {
    const std::string msg = rejection(data, size);
    if (msg.empty()) return;
    bool found = needles.empty();
    for (const std::string& n : needles) found = found || msg.find(n) != std::string::npos;
    EXPECT_TRUE(found) << "message \"" << msg << "\" names none of the expected problems";
}

void expect_rejected(const std::vector<uint8_t>& file, const std::vector<std::string>& needles) {
    expect_rejected(file.data(), file.size(), needles);
}

struct Case {
    const char* name;
    std::function<void(Spec&)> mutate;
    std::vector<std::string> needles;  // the message must contain one of them
};

Kv nested(int levels) {
    Buf b;
    for (int k = 0; k < levels - 1; ++k) b.u32(T_ARRAY).u64(1);
    b.u32(T_U8).u64(1).u8(5);
    return {"deep", T_ARRAY, b, {}};
}

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        // Header.
        {"bad magic", [](Spec& s) { s.magic = 0x47554747; }, {"magic"}},
        {"zero magic", [](Spec& s) { s.magic = 0; }, {"magic"}},
        {"version 0", [](Spec& s) { s.version = 0; }, {"version 0"}},
        {"version 1", [](Spec& s) { s.version = 1; }, {"version 1"}},
        {"version 4", [](Spec& s) { s.version = 4; }, {"version 4"}},
        {"version 99", [](Spec& s) { s.version = 99; }, {"version 99"}},
        {"big-endian version 3", [](Spec& s) { s.version = 0x03000000; }, {"big-endian"}},
        {"tensor count 2^63", [](Spec& s) { s.n_tensors = kHuge; }, {"tensor count"}},
        {"tensor count 2^64-1", [](Spec& s) { s.n_tensors = ~0ull; }, {"tensor count"}},
        {"metadata count 2^63", [](Spec& s) { s.n_kv = kHuge; }, {"metadata count"}},
        {"metadata count 2^64-1", [](Spec& s) { s.n_kv = ~0ull; }, {"metadata count"}},
        {"one tensor more than given", [](Spec& s) { s.n_tensors = 4; }, {}},
        {"one key more than given", [](Spec& s) { s.n_kv = 5; }, {}},
        // Keys and values.
        {"key length 2^62", [](Spec& s) { s.kv[1].key_len = 1ull << 62; }, {"absurd length"}},
        {"key length past the end", [](Spec& s) { s.kv[1].key_len = 5000; }, {"ends inside"}},
        {"empty key", [](Spec& s) { s.kv[1].key = ""; }, {"empty"}},
        {"duplicate key", [](Spec& s) { s.kv[2].key = "test.u32"; }, {"duplicate metadata key test.u32"}},
        {"string length 2^63", [](Spec& s) { s.kv[0].payload = Buf().u64(kHuge); }, {"absurd length"}},
        {"string length past the end", [](Spec& s) { s.kv[0].payload = Buf().u64(4000).u32(0); },
         {"ends inside"}},
        {"value type 13", [](Spec& s) { s.kv[1].type = 13; }, {"unknown type 13"}},
        {"value type 2^32-1", [](Spec& s) { s.kv[1].type = 0xFFFFFFFF; }, {"unknown type"}},
        {"bool 2", [](Spec& s) { s.kv[1] = {"b", T_BOOL, Buf().u8(2), {}}; }, {"neither 0 nor 1"}},
        {"bool 255", [](Spec& s) { s.kv[1] = {"b", T_BOOL, Buf().u8(255), {}}; }, {"neither 0 nor 1"}},
        {"bool array element 7",
         [](Spec& s) { s.kv[1] = {"bs", T_ARRAY, Buf().u32(T_BOOL).u64(3).u8(1).u8(0).u8(7), {}}; },
         {"neither 0 nor 1"}},
        {"array element type 13", [](Spec& s) { s.kv[2].payload = Buf().u32(13).u64(1).u32(0); },
         {"unknown array element type 13"}},
        {"array element type 2^31", [](Spec& s) { s.kv[2].payload = Buf().u32(1u << 31).u64(0); },
         {"unknown array element type"}},
        {"u8 array count 2^63", [](Spec& s) { s.kv[2].payload = Buf().u32(T_U8).u64(kHuge); },
         {"exceeds the file"}},
        // count * 4 wraps to 0 in 64 bits: the check must not multiply first.
        {"u32 array count 2^62", [](Spec& s) { s.kv[2].payload = Buf().u32(T_U32).u64(1ull << 62); },
         {"exceeds the file"}},
        {"i32 array one element short", [](Spec& s) { s.kv[2].payload = Buf().u32(T_I32).u64(400).u32(1); },
         {"exceeds the file"}},
        {"string array count 2^61", [](Spec& s) { s.kv[3].payload = Buf().u32(T_STRING).u64(1ull << 61); },
         {"exceeds the file"}},
        {"string array element length 2^63",
         [](Spec& s) { s.kv[3].payload = Buf().u32(T_STRING).u64(2).str("a").u64(kHuge); }, {"absurd length"}},
        {"nested array count 2^60", [](Spec& s) { s.kv[3].payload = Buf().u32(T_ARRAY).u64(1ull << 60); },
         {"exceeds the file"}},
        {"nested array of unknown type",
         [](Spec& s) { s.kv[3].payload = Buf().u32(T_ARRAY).u64(1).u32(99).u64(0); },
         {"unknown array element type 99"}},
        {"arrays nested 5 deep", [](Spec& s) { s.kv[3] = nested(5); }, {"nested too deeply"}},
        {"arrays nested 10000 deep", [](Spec& s) { s.kv[3] = nested(10000); }, {"nested too deeply"}},
        // Alignment.
        {"alignment 48", [](Spec& s) { s.kv.insert(s.kv.begin(), kv_u32("general.alignment", 48)); },
         {"power of two"}},
        {"alignment 0", [](Spec& s) { s.kv.insert(s.kv.begin(), kv_u32("general.alignment", 0)); },
         {"power of two"}},
        {"alignment 2^31", [](Spec& s) { s.kv.insert(s.kv.begin(), kv_u32("general.alignment", 1u << 31)); },
         {"2147483648 is too large"}},
        {"alignment -32",
         [](Spec& s) { s.kv.insert(s.kv.begin(), Kv{"general.alignment", T_I32, Buf().u32(uint32_t(-32)), {}}); },
         {"-32 is not a power of two"}},
        {"alignment as a string", [](Spec& s) { s.kv.insert(s.kv.begin(), kv_str("general.alignment", "32")); },
         {"not an integer"}},
        {"alignment as a float",
         [](Spec& s) { s.kv.insert(s.kv.begin(), Kv{"general.alignment", T_F32, Buf().put(32.0f), {}}); },
         {"not an integer"}},
        {"alignment 64, offsets at 32",
         [](Spec& s) {
             s.kv.insert(s.kv.begin(), kv_u32("general.alignment", 64));
             s.alignment = 64;
         },
         {"not aligned"}},
        // Tensor infos.
        {"empty tensor name", [](Spec& s) { s.tensors[1].name = ""; }, {"empty name"}},
        {"duplicate tensor name", [](Spec& s) { s.tensors[2].name = "a"; }, {"duplicate tensor a"}},
        {"0 dims", [](Spec& s) { s.tensors[0].ne = {}; }, {"0 dimensions"}},
        {"5 dims", [](Spec& s) { s.tensors[0].ne = {8, 1, 1, 1, 1}; }, {"5 dimensions"}},
        {"2^32-1 dims", [](Spec& s) { s.tensors[0].n_dims = 0xFFFFFFFF; }, {"dimensions"}},
        {"zero dim", [](Spec& s) { s.tensors[2].ne = {4, 0}; }, {"dimension 1 of size 0"}},
        {"negative dim", [](Spec& s) { s.tensors[2].ne = {-4, 4}; }, {"of size -4"}},
        {"int64 min dim", [](Spec& s) { s.tensors[0].ne = {std::numeric_limits<int64_t>::min()}; },
         {"of size"}},
        {"element count overflow", [](Spec& s) { s.tensors[0].ne = {1ll << 32, 1ll << 32}; },
         {"too many elements"}},
        {"element count overflow 4d", [](Spec& s) { s.tensors[0].ne = {1 << 16, 1 << 16, 1 << 16, 1 << 16}; },
         {"too many elements"}},
        {"byte count overflow", [](Spec& s) { s.tensors[0].ne = {1ll << 62}; }, {"too large"}},
        {"2^40 elements", [](Spec& s) { s.tensors[0].ne = {1ll << 40}; }, {"outside"}},
        {"Q8_0 first dim 33", [](Spec& s) { s.tensors[1].ne = {33, 2}; }, {"not a multiple"}},
        {"Q4_K first dim 128",
         [](Spec& s) {
             s.tensors[1].type = uint32_t(GgmlType::Q4_K);
             s.tensors[1].ne = {128};
         },
         {"not a multiple"}},
        {"tensor type 4 (removed Q4_2)", [](Spec& s) { s.tensors[0].type = 4; }, {"unknown type id 4"}},
        {"tensor type 31", [](Spec& s) { s.tensors[0].type = 31; }, {"unknown type id 31"}},
        {"tensor type 1000", [](Spec& s) { s.tensors[0].type = 1000; }, {"unknown type id 1000"}},
        {"tensor type 2^32-1", [](Spec& s) { s.tensors[0].type = 0xFFFFFFFF; }, {"unknown type id"}},
        {"misaligned offset", [](Spec& s) { s.tensors[1].offset = 36; }, {"not aligned"}},
        {"offset 1", [](Spec& s) { s.tensors[2].offset = 1; }, {"not aligned"}},
        // Data section.
        {"tensor past the end", [](Spec& s) { s.tensors[2].offset = 160; }, {"outside"}},
        {"tensor one byte past the end", [](Spec& s) { s.data_bytes = 159; }, {"outside"}},
        {"offset 2^40", [](Spec& s) { s.tensors[0].offset = 1ull << 40; }, {"outside"}},
        {"offset near 2^64", [](Spec& s) { s.tensors[0].offset = ~0ull & ~31ull; }, {"outside"}},
        {"no data section", [](Spec& s) { s.data_bytes = 0; }, {"outside", "ends before"}},
        {"same offset", [](Spec& s) { s.tensors[1].offset = 0; }, {"overlap"}},
        {"partial overlap", [](Spec& s) { s.tensors[2].offset = 96; }, {"overlap"}},
        {"contained overlap",
         [](Spec& s) {
             s.tensors[0].ne = {32};  // 128 bytes at 0 cover b
         },
         {"overlap"}},
    };
    return all;
}

}  // namespace

TEST(GgufMalformed, BaseFileIsValid) {
    const std::vector<uint8_t> file = base().build();
    const Parsed p = parse_exact(file.data(), file.size());
    const File* f = p.file.get();
    EXPECT_EQ(f->tensors().size(), 3u);
    EXPECT_EQ(f->metadata().size(), 4u);
    EXPECT_EQ(f->find_tensor("b")->nbytes, 68u);
    EXPECT_EQ(f->get_i32_array("test.i32s"), (std::vector<int32_t>{1, 2, 3}));
}

// Values a file may legally hold but that used to be undefined behaviour to convert (UBSan
// flagged them), and accessor indices coming from elsewhere in a file.
TEST(GgufMalformed, HostileArrayValuesAreSafeToRead) {
    Spec s = base();
    s.kv.push_back({"floats", T_ARRAY,
                    Buf().u32(T_F32).u64(3).put(std::nanf("")).put(1e30f).put(-1e30f), {}});
    const std::vector<uint8_t> file = s.build();
    const Parsed p = parse_exact(file.data(), file.size());
    const Value* v = p.file->find("floats");
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->integer_at(0), 0);
    EXPECT_EQ(v->integer_at(1), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(v->integer_at(2), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(p.file->get_i32_array("floats").size(), 3u);
    EXPECT_THROW(v->number_at(3), Error);
    EXPECT_THROW(v->integer_at(~0ull), Error);
    EXPECT_THROW(p.file->find("test.strs")->number_at(0), Error);  // string array: no raw data
}

TEST(GgufMalformed, EveryHostileFieldIsRejectedByName) {
    for (const Case& c : cases()) {
        SCOPED_TRACE(c.name);
        Spec s = base();
        c.mutate(s);
        expect_rejected(s.build(), c.needles);
    }
}

TEST(GgufMalformed, ErrorFromOpenNamesThePath) {
    Spec s = base();
    s.tensors[2].offset = 96;
    const std::vector<uint8_t> bytes = s.build();
    const fs::path path = fs::temp_directory_path() / ("ld_gguf_bad_" + std::to_string(::getpid()) + ".gguf");
    {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    }
    try {
        File::open(path.string());
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind(path.string() + ": ", 0), 0u) << msg;
        EXPECT_NE(msg.find("tensor c"), std::string::npos) << msg;
        EXPECT_NE(msg.find("overlaps tensor b"), std::string::npos) << msg;
    }
    fs::remove(path);
}

// A small valid file with every kind of field, cut at every offset.
TEST(GgufMalformed, TruncatedAtEveryOffset) {
    Spec s = base();
    s.kv.push_back({"bools", T_ARRAY, Buf().u32(T_BOOL).u64(2).u8(0).u8(1), {}});
    s.kv.push_back({"nest", T_ARRAY, Buf().u32(T_ARRAY).u64(2).u32(T_U8).u64(1).u8(9).u32(T_STRING).u64(1).str("x"), {}});
    s.kv.push_back({"b", T_BOOL, Buf().u8(1), {}});
    const std::vector<uint8_t> file = s.build();
    ASSERT_NO_THROW(parse_exact(file.data(), file.size()));
    for (size_t n = 0; n < file.size(); ++n) {
        SCOPED_TRACE(n);
        expect_rejected(file.data(), n, {"ends", "outside", "exceeds", "not a GGUF file"});
    }
}

static void truncate_real_file(const std::string& rel, size_t header_stride, size_t data_samples) {
    auto f = File::open(ld::test::shared_path(rel));
    const size_t header = size_t(f->data_offset());
    std::vector<size_t> cuts;
    for (size_t n = 0; n <= header; n += header_stride) cuts.push_back(n);
    for (size_t n = header - std::min<size_t>(header, 64); n <= header; ++n) cuts.push_back(n);
    for (size_t k = 1; k <= data_samples; ++k) cuts.push_back(header + (f->size() - header) * k / (data_samples + 1));
    for (const TensorInfo& t : f->tensors()) {
        const size_t end = size_t(f->data_offset() + t.offset + t.nbytes);
        if (end < f->size()) cuts.push_back(end - 1);
    }
    cuts.push_back(f->size() - 1);
    for (size_t n : cuts) {
        SCOPED_TRACE(n);
        expect_rejected(f->bytes(), n, {"ends", "outside", "exceeds", "not a GGUF file"});
    }
}

TEST(GgufMalformed, TruncatedStories260K) {
    LD_REQUIRE_SHARED("models/stories260K.gguf");
    // Every offset of the 14 KB header, then samples and tensor ends in the data.
    truncate_real_file("models/stories260K.gguf", 1, 200);
}

TEST(GgufMalformed, TruncatedTinyLlama31) {
    LD_REQUIRE_SHARED("models/tiny-llama31-random-f16.gguf");
    // The 7.8 MB header (vocabulary and merges) is sampled; parsing each prefix costs ~10 ms.
    truncate_real_file("models/tiny-llama31-random-f16.gguf", 7819872 / 60 + 1, 8);
}

TEST(GgufMalformed, CorruptedRealHeaderFields) {
    LD_REQUIRE_SHARED("models/stories260K.gguf");
    const std::vector<char> raw = ld::test::read_file(ld::test::shared_path("models/stories260K.gguf"));
    const std::vector<uint8_t> good(raw.begin(), raw.end());
    auto patch = [&](size_t at, uint64_t v, size_t width) {
        std::vector<uint8_t> b = good;
        std::memcpy(b.data() + at, &v, width);
        return b;
    };
    expect_rejected(patch(0, 0x46554746, 4), {"magic"});
    expect_rejected(patch(4, 1, 4), {"version 1"});
    expect_rejected(patch(8, kHuge, 8), {"tensor count"});
    expect_rejected(patch(16, kHuge, 8), {"metadata count"});
    expect_rejected(patch(24, kHuge, 8), {"absurd length"});  // first key's length
}

// A count checked only against the bytes left is still huge when gigabytes of tensor data
// follow the metadata. The reader must not reserve memory for it up front (it used to, and a
// big file turned a one-byte problem into an out-of-memory abort).
TEST(GgufMalformed, HugeCountsInHugeFileFailFast) {
    const fs::path path = fs::temp_directory_path() / ("ld_gguf_sparse_" + std::to_string(::getpid()) + ".gguf");
    const uint64_t size = 64ull << 30;  // sparse: costs no disk
    for (int which = 0; which < 2; ++which) {
        SCOPED_TRACE(which == 0 ? "metadata count" : "tensor count");
        Buf h;
        h.u32(kMagic).u32(3);
        if (which == 0) h.u64(0).u64((size - 24) / 14);
        else h.u64((size - 24) / 34).u64(0);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::write(fd, h.b.data(), h.b.size()), ssize_t(h.b.size()));
        const bool sparse_ok = ::ftruncate(fd, off_t(size)) == 0;
        ::close(fd);
        if (!sparse_ok) {
            fs::remove(path);
            GTEST_SKIP() << "cannot create a 64 GiB sparse file here";
        }
        try {
            File::open(path.string());
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            // The zero bytes after the header are an empty key / an empty tensor name.
            EXPECT_NE(std::string(e.what()).find(which == 0 ? "key 0 is empty" : "empty name"), std::string::npos)
                << e.what();
        }
    }
    fs::remove(path);
}
