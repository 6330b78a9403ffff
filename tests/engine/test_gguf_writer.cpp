// GGUF writer: every metadata type and several tensor layouts survive writer -> reader
// unchanged, real files are reproduced by copy(), and failed writes leave nothing behind.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "inference/gguf/gguf_writer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace ld;
using namespace ld::gguf;

namespace {

struct TempDir {
    fs::path dir;
    TempDir() {
        static int counter = 0;
        dir = fs::temp_directory_path() /
              ("ld_gguf_writer_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::create_directories(dir);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::string file(const std::string& name) const { return (dir / name).string(); }
};

Value uns(ValueType t, uint64_t x) {
    Value v;
    v.type = t;
    v.u = x;
    v.i = int64_t(x);
    return v;
}
Value sig(ValueType t, int64_t x) {
    Value v;
    v.type = t;
    v.i = x;
    v.u = uint64_t(x);
    return v;
}
Value flt(ValueType t, double x) {
    Value v;
    v.type = t;
    v.f = x;
    return v;
}
Value str(std::string_view s) {
    Value v;
    v.type = ValueType::STRING;
    v.str = s;
    return v;
}
Value numeric_array(ValueType elem, const void* raw, uint64_t count) {
    Value v;
    v.type = ValueType::ARRAY;
    v.elem_type = elem;
    v.count = count;
    v.raw = static_cast<const uint8_t*>(raw);
    return v;
}
Value string_array(std::vector<std::string_view> s) {
    Value v;
    v.type = ValueType::ARRAY;
    v.elem_type = ValueType::STRING;
    v.count = s.size();
    v.strings = std::move(s);
    return v;
}
Value nested_array(std::vector<Value> items) {
    Value v;
    v.type = ValueType::ARRAY;
    v.elem_type = ValueType::ARRAY;
    v.count = items.size();
    v.items = std::move(items);
    return v;
}

size_t elem_size(ValueType t) {
    switch (t) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
        case ValueType::UINT16: case ValueType::INT16: return 2;
        case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
        default: return 8;
    }
}

// Compares what a file stores, bit for bit (NaN payloads and -0.0 included).
void expect_same(const Value& a, const Value& b, const std::string& key) {
    SCOPED_TRACE(key);
    ASSERT_EQ(a.type, b.type);
    switch (a.type) {
        case ValueType::UINT8: case ValueType::UINT16: case ValueType::UINT32: case ValueType::UINT64:
        case ValueType::BOOL:
            EXPECT_EQ(a.u, b.u);
            break;
        case ValueType::INT8: case ValueType::INT16: case ValueType::INT32: case ValueType::INT64:
            EXPECT_EQ(a.i, b.i);
            break;
        case ValueType::FLOAT32: {
            const float x = float(a.f), y = float(b.f);
            EXPECT_EQ(0, std::memcmp(&x, &y, 4)) << x << " vs " << y;
            break;
        }
        case ValueType::FLOAT64: EXPECT_EQ(0, std::memcmp(&a.f, &b.f, 8)) << a.f << " vs " << b.f; break;
        case ValueType::STRING: EXPECT_EQ(a.str, b.str); break;
        case ValueType::ARRAY:
            ASSERT_EQ(a.elem_type, b.elem_type);
            ASSERT_EQ(a.count, b.count);
            if (a.elem_type == ValueType::STRING) {
                EXPECT_EQ(a.strings, b.strings);
            } else if (a.elem_type == ValueType::ARRAY) {
                ASSERT_EQ(a.items.size(), b.items.size());
                for (size_t k = 0; k < a.items.size(); ++k)
                    expect_same(a.items[k], b.items[k], key + "[" + std::to_string(k) + "]");
            } else if (a.count > 0) {
                EXPECT_EQ(0, std::memcmp(a.raw, b.raw, size_t(a.count * elem_size(a.elem_type))));
            }
            break;
    }
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    uint32_t x = seed * 2654435761u + 1;
    for (auto& b : v) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = uint8_t(x);
    }
    return v;
}

}  // namespace

TEST(GgufWriter, RoundTripsEveryMetadataType) {
    const uint8_t u8s[] = {0, 1, 255};
    const int8_t i8s[] = {-128, 0, 127};
    const uint16_t u16s[] = {0, 65535};
    const int16_t i16s[] = {-32768, 32767};
    const uint32_t u32s[] = {0, 0xFFFFFFFFu, 7};
    const int32_t i32s[] = {std::numeric_limits<int32_t>::min(), -1, 5};
    const float f32s[] = {-0.0f, std::numeric_limits<float>::infinity(), 1e-45f, std::nanf("")};
    const uint8_t bools[] = {1, 0, 1};
    const uint64_t u64s[] = {~0ull, 0};
    const int64_t i64s[] = {std::numeric_limits<int64_t>::min(), 42};
    const double f64s[] = {1e308, -5e-324};
    const std::string with_nul("a\0b", 3);
    const std::string long_string(100000, 'x');

    std::vector<KeyValue> kvs = {
        {"s.u8", uns(ValueType::UINT8, 255)},
        {"s.i8", sig(ValueType::INT8, -128)},
        {"s.u16", uns(ValueType::UINT16, 65535)},
        {"s.i16", sig(ValueType::INT16, -32768)},
        {"s.u32", uns(ValueType::UINT32, 0xFFFFFFFFu)},
        {"s.i32", sig(ValueType::INT32, std::numeric_limits<int32_t>::min())},
        {"s.f32", flt(ValueType::FLOAT32, -1.25)},
        {"s.bool.true", uns(ValueType::BOOL, 1)},
        {"s.bool.false", uns(ValueType::BOOL, 0)},
        {"s.str", str("héllo wörld")},
        {"s.str.empty", str("")},
        {"s.str.nul", str(with_nul)},
        {"s.str.long", str(long_string)},
        {"s.u64", uns(ValueType::UINT64, ~0ull)},
        {"s.i64", sig(ValueType::INT64, std::numeric_limits<int64_t>::min())},
        {"s.f64", flt(ValueType::FLOAT64, -0.0)},
        {"a.u8", numeric_array(ValueType::UINT8, u8s, 3)},
        {"a.i8", numeric_array(ValueType::INT8, i8s, 3)},
        {"a.u16", numeric_array(ValueType::UINT16, u16s, 2)},
        {"a.i16", numeric_array(ValueType::INT16, i16s, 2)},
        {"a.u32", numeric_array(ValueType::UINT32, u32s, 3)},
        {"a.i32", numeric_array(ValueType::INT32, i32s, 3)},
        {"a.f32", numeric_array(ValueType::FLOAT32, f32s, 4)},
        {"a.bool", numeric_array(ValueType::BOOL, bools, 3)},
        {"a.u64", numeric_array(ValueType::UINT64, u64s, 2)},
        {"a.i64", numeric_array(ValueType::INT64, i64s, 2)},
        {"a.f64", numeric_array(ValueType::FLOAT64, f64s, 2)},
        {"a.empty", numeric_array(ValueType::UINT32, nullptr, 0)},
        {"a.str", string_array({"one", "", with_nul, "ünïcode"})},
        {"a.str.empty", string_array({})},
        {"a.nested", nested_array({numeric_array(ValueType::INT32, i32s, 3), string_array({"x", "yz"}),
                                   nested_array({}), numeric_array(ValueType::FLOAT64, f64s, 2)})},
        // Four levels of arrays: the deepest the format allows here.
        {"a.deep", nested_array({nested_array({nested_array({numeric_array(ValueType::UINT8, u8s, 3)})})})},
    };

    Writer w;
    for (const KeyValue& kv : kvs) w.copy(kv);
    w.set_u32("set.u32", 123456789u);
    w.set_i32("set.i32", -123456789);
    w.set_u64("set.u64", 1ull << 40);
    w.set_f32("set.f32", 0.1f);
    w.set_bool("set.bool", true);
    w.set_string("set.string", "llama");
    w.set_string_array("set.strings", {"<s>", "</s>", ""});
    w.set_f32_array("set.f32s", {1.0f, -2.5f, 3e38f});
    w.set_i32_array("set.i32s", {1, -2, std::numeric_limits<int32_t>::max()});

    TempDir tmp;
    const std::string path = tmp.file("meta.gguf");
    w.write(path);
    EXPECT_FALSE(fs::exists(path + ".tmp"));

    auto f = File::open(path);
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->alignment(), 32u);
    EXPECT_EQ(f->find("general.alignment"), nullptr) << "default alignment needs no key";
    ASSERT_EQ(f->metadata().size(), kvs.size() + 9);
    // Keys keep their order.
    for (size_t k = 0; k < kvs.size(); ++k) {
        EXPECT_EQ(f->metadata()[k].key, kvs[k].key);
        expect_same(kvs[k].value, f->metadata()[k].value, std::string(kvs[k].key));
    }
    EXPECT_EQ(f->get_u64("set.u32"), 123456789u);
    EXPECT_EQ(f->find("set.u32")->type, ValueType::UINT32);
    EXPECT_EQ(f->get_i64("set.i32"), -123456789);
    EXPECT_EQ(f->find("set.i32")->type, ValueType::INT32);
    EXPECT_EQ(f->get_u64("set.u64"), 1ull << 40);
    EXPECT_EQ(f->find("set.u64")->type, ValueType::UINT64);
    EXPECT_EQ(f->get_f64("set.f32"), double(0.1f));
    EXPECT_EQ(f->get_bool("set.bool"), true);
    EXPECT_EQ(f->get_string("set.string"), "llama");
    ASSERT_NE(f->get_string_array("set.strings"), nullptr);
    EXPECT_EQ(*f->get_string_array("set.strings"), (std::vector<std::string_view>{"<s>", "</s>", ""}));
    EXPECT_EQ(f->get_f32_array("set.f32s"), (std::vector<float>{1.0f, -2.5f, 3e38f}));
    EXPECT_EQ(f->get_i32_array("set.i32s"),
              (std::vector<int32_t>{1, -2, std::numeric_limits<int32_t>::max()}));
    EXPECT_EQ(f->find("s.str.long")->str.size(), 100000u);
    EXPECT_EQ(f->find("a.deep")->items[0].items[0].items[0].integer_at(2), 255);
}

TEST(GgufWriter, AddsAlignmentKeyOnlyWhenNeeded) {
    TempDir tmp;
    Writer w;
    w.set_string("general.name", "a");
    w.write(tmp.file("a32.gguf"), 32);
    w.write(tmp.file("a64.gguf"), 64);
    auto f32 = File::open(tmp.file("a32.gguf"));
    EXPECT_EQ(f32->find("general.alignment"), nullptr);
    EXPECT_EQ(f32->alignment(), 32u);
    auto f64 = File::open(tmp.file("a64.gguf"));
    ASSERT_EQ(f64->metadata().size(), 2u);
    EXPECT_EQ(f64->get_u64("general.alignment"), 64u);
    EXPECT_EQ(f64->alignment(), 64u);
}

TEST(GgufWriter, ReplacesAndRemovesKeys) {
    Writer w;
    w.set_u32("k", 1);
    w.set_string("other", "x");
    w.set_string("k", "now a string");
    w.set_u32("gone", 3);
    w.remove("gone");
    w.remove("never-there");
    TempDir tmp;
    w.write(tmp.file("r.gguf"));
    auto f = File::open(tmp.file("r.gguf"));
    ASSERT_EQ(f->metadata().size(), 2u);
    EXPECT_EQ(f->metadata()[0].key, "k");
    EXPECT_EQ(f->get_string("k"), "now a string");
    EXPECT_EQ(f->find("gone"), nullptr);
}

TEST(GgufWriter, RoundTripsTensorsAtEveryAlignment) {
    struct Spec {
        const char* name;
        GgmlType type;
        std::vector<int64_t> ne;
        size_t nbytes;
    };
    const std::vector<Spec> specs = {
        {"f32", GgmlType::F32, {7}, 28},
        {"f16", GgmlType::F16, {3, 5}, 30},
        {"q4_0", GgmlType::Q4_0, {64, 3}, 2 * 3 * 18},
        {"q8_0", GgmlType::Q8_0, {32, 1, 2}, 2 * 34},
        {"q4_k", GgmlType::Q4_K, {256, 2}, 2 * 144},
        {"q6_k", GgmlType::Q6_K, {512}, 2 * 210},
        {"i8", GgmlType::I8, {5, 1, 1, 3}, 15},
        {"bf16", GgmlType::BF16, {1}, 2},
    };
    for (uint32_t alignment : {1u, 8u, 32u, 64u, 4096u}) {
        SCOPED_TRACE(alignment);
        std::vector<std::vector<uint8_t>> data;
        data.reserve(specs.size());  // producers keep pointers to the elements
        Writer w;
        w.set_string("general.architecture", "llama");
        // A stale key from another file must not contradict the layout actually written.
        w.copy({"general.alignment", uns(ValueType::UINT32, 128)});
        for (size_t k = 0; k < specs.size(); ++k) {
            data.push_back(pattern(specs[k].nbytes, uint32_t(k + alignment)));
            if (k % 2 == 0) {
                w.add_tensor(specs[k].name, specs[k].type, specs[k].ne, data.back().data());
            } else {
                const std::vector<uint8_t>* src = &data.back();
                w.add_tensor(specs[k].name, specs[k].type, specs[k].ne,
                             [src](uint8_t* dst) { std::memcpy(dst, src->data(), src->size()); });
            }
        }
        TempDir tmp;
        const std::string path = tmp.file("t.gguf");
        w.write(path, alignment);
        auto f = File::open(path);
        EXPECT_EQ(f->alignment(), alignment);
        EXPECT_EQ(f->get_u64("general.alignment"), alignment);
        EXPECT_EQ(f->find("general.alignment")->type, ValueType::UINT32);
        EXPECT_EQ(f->metadata()[1].key, "general.alignment") << "the copied key keeps its place";
        EXPECT_EQ(f->data_offset() % alignment, 0u);
        ASSERT_EQ(f->tensors().size(), specs.size());
        uint64_t end = 0;
        for (size_t k = 0; k < specs.size(); ++k) {
            const TensorInfo& t = f->tensors()[k];
            SCOPED_TRACE(t.name);
            EXPECT_EQ(t.name, specs[k].name);
            EXPECT_EQ(t.type, specs[k].type);
            EXPECT_EQ(t.ne, specs[k].ne);
            EXPECT_EQ(t.nbytes, specs[k].nbytes);
            EXPECT_EQ(t.offset % alignment, 0u);
            EXPECT_EQ(uint64_t(t.data - f->bytes()) % alignment, 0u);
            EXPECT_LT(t.offset - end, alignment) << "only alignment padding between tensors";
            end = t.offset + t.nbytes;
            EXPECT_EQ(0, std::memcmp(t.data, data[k].data(), data[k].size()));
        }
        EXPECT_EQ(f->data_offset() + end, f->size()) << "no bytes after the last tensor";
    }
}

TEST(GgufWriter, ProducersShareOneBufferAndRunInOrder) {
    Writer w;
    std::vector<const uint8_t*> seen;
    std::vector<std::string> order;
    for (int k = 0; k < 4; ++k) {
        const std::string name = "t" + std::to_string(k);
        const int64_t n = 32 * (k + 1) * (k % 2 ? 1 : 3);
        w.add_tensor(name, GgmlType::F32, {n}, [&, name, n, k](uint8_t* dst) {
            seen.push_back(dst);
            order.push_back(name);
            for (int64_t e = 0; e < n; ++e) {
                const float x = float(k * 1000 + e);
                std::memcpy(dst + 4 * e, &x, 4);
            }
        });
    }
    TempDir tmp;
    w.write(tmp.file("p.gguf"));
    EXPECT_EQ(order, (std::vector<std::string>{"t0", "t1", "t2", "t3"}));
    ASSERT_EQ(seen.size(), 4u);
    for (const uint8_t* p : seen) EXPECT_EQ(p, seen[0]) << "every tensor is produced into the same buffer";
    auto f = File::open(tmp.file("p.gguf"));
    for (int k = 0; k < 4; ++k) {
        const TensorInfo& t = f->tensors()[size_t(k)];
        for (int64_t e = 0; e < t.nelements; ++e) {
            float x;
            std::memcpy(&x, t.data + 4 * e, 4);
            ASSERT_EQ(x, float(k * 1000 + e)) << t.name << " element " << e;
        }
    }
}

TEST(GgufWriter, FailingProducerLeavesNoFile) {
    TempDir tmp;
    const std::string path = tmp.file("fail.gguf");
    Writer w;
    w.add_tensor("ok", GgmlType::F32, {4}, [](uint8_t* dst) { std::memset(dst, 0, 16); });
    w.add_tensor("bad", GgmlType::F32, {4}, [](uint8_t*) { ld::fail("quantizer gave up on bad"); });
    try {
        w.write(path);
        FAIL() << "write should fail";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("quantizer gave up on bad"), std::string::npos);
    }
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));

    Writer over;
    over.add_tensor("greedy", GgmlType::F32, {4}, [](uint8_t* dst) { std::memset(dst, 1, 17); });
    try {
        over.write(path);
        FAIL() << "a producer writing past nbytes must be caught";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("greedy"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("past"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(GgufWriter, DiskFullRemovesTmpAndSaysSo) {
    if (!fs::exists("/dev/full")) GTEST_SKIP() << "/dev/full not available";
    TempDir tmp;
    const std::string path = tmp.file("full.gguf");
    // PATH.tmp pointing at /dev/full makes every write fail with ENOSPC, as a full disk does.
    fs::create_symlink("/dev/full", path + ".tmp");
    std::vector<uint8_t> data(3 << 20, 7);
    Writer w;
    w.set_string("general.name", "x");
    w.add_tensor("big", GgmlType::I8, {int64_t(data.size())}, data.data());
    try {
        w.write(path);
        FAIL() << "write to a full disk must fail";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("disk full while writing"), std::string::npos) << msg;
        EXPECT_NE(msg.find("full.gguf.tmp"), std::string::npos) << msg;
    }
    EXPECT_FALSE(fs::exists(fs::symlink_status(path + ".tmp")));
    EXPECT_FALSE(fs::exists(path));
}

TEST(GgufWriter, WriteErrorRemovesTmpAndKeepsOldFile) {
    TempDir tmp;
    const std::string path = tmp.file("limited.gguf");
    {
        Writer old;
        old.set_string("general.name", "old");
        old.write(path);
    }
    std::vector<uint8_t> data(4 << 20, 1);
    Writer w;
    w.set_string("general.name", "new");
    w.add_tensor("big", GgmlType::I8, {int64_t(data.size())}, data.data());

    // A file size limit fails write() with EFBIG part way through, like any mid-file I/O error.
    rlimit saved{};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
    auto* old_handler = signal(SIGXFSZ, SIG_IGN);
    rlimit limited = saved;
    limited.rlim_cur = 1 << 20;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
    std::string msg;
    try {
        w.write(path);
    } catch (const Error& e) {
        msg = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, old_handler);

    EXPECT_NE(msg.find("cannot write"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::strerror(EFBIG)), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    auto f = File::open(path);
    EXPECT_EQ(f->get_string("general.name"), "old") << "a failed write never replaces the old file";
}

TEST(GgufWriter, ReplacesAnExistingFile) {
    TempDir tmp;
    const std::string path = tmp.file("m.gguf");
    Writer a;
    a.set_u32("v", 1);
    a.write(path);
    Writer b;
    b.set_u32("v", 2);
    b.write(path);
    EXPECT_EQ(File::open(path)->get_u64("v"), 2u);
    EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(GgufWriter, RejectsBadInputWithReasons) {
    auto expect_error = [](auto&& f, const std::string& needle) {
        try {
            f();
            ADD_FAILURE() << "expected an error containing '" << needle << "'";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    const float data[64] = {};
    Writer w;
    w.add_tensor("a", GgmlType::F32, {4}, data);
    expect_error([&] { w.add_tensor("a", GgmlType::F32, {4}, data); }, "duplicate tensor a");
    expect_error([&] { w.add_tensor("", GgmlType::F32, {4}, data); }, "empty");
    expect_error([&] { w.add_tensor(std::string(64, 'n'), GgmlType::F32, {4}, data); }, "longer than");
    expect_error([&] { w.add_tensor("d0", GgmlType::F32, {}, data); }, "0 dimensions");
    expect_error([&] { w.add_tensor("d5", GgmlType::F32, {1, 1, 1, 1, 1}, data); }, "5 dimensions");
    expect_error([&] { w.add_tensor("z", GgmlType::F32, {4, 0}, data); }, "dimension 1 of size 0");
    expect_error([&] { w.add_tensor("neg", GgmlType::F32, {-4}, data); }, "size -4");
    expect_error([&] { w.add_tensor("blk", GgmlType::Q4_0, {33}, data); }, "not a multiple");
    expect_error([&] { w.add_tensor("ty", GgmlType(4), {32}, data); }, "unknown type");
    expect_error([&] { w.add_tensor("huge", GgmlType::F32, {1ll << 32, 1ll << 32}, data); }, "too many elements");
    expect_error([&] { w.add_tensor("null", GgmlType::F32, {4}, static_cast<const void*>(nullptr)); },
                 "no data");
    expect_error([&] { w.add_tensor("noprod", GgmlType::F32, {4}, Writer::Producer{}); }, "no producer");
    expect_error([&] { w.set_u32("", 1); }, "empty");
    expect_error([&] { Writer().write("/tmp/x.gguf", 48); }, "power of two");
    expect_error([&] { Writer().write("/nonexistent-dir/x.gguf"); }, "cannot create /nonexistent-dir/x.gguf.tmp");
    Value deep = nested_array({nested_array({nested_array({nested_array({nested_array({})})})})});
    expect_error([&] { Writer().copy({"deep", deep}); }, "nested too deeply");
    Value bad = numeric_array(ValueType::UINT32, nullptr, 3);
    expect_error([&] { Writer().copy({"bad", bad}); }, "no element data");
}

// copy() of every key of a real file reproduces its metadata exactly, and its tensors by pointer.
static void copy_real_file(const std::string& rel) {
    const std::string src_path = ld::test::shared_path(rel);
    auto src = File::open(src_path);
    Writer w;
    for (const KeyValue& kv : src->metadata()) w.copy(kv);
    for (const TensorInfo& t : src->tensors()) w.add_tensor(t.name, t.type, t.ne, t.data);
    TempDir tmp;
    const std::string path = tmp.file("copy.gguf");
    w.write(path, uint32_t(src->alignment()));
    auto dst = File::open(path);
    ASSERT_EQ(dst->metadata().size(), src->metadata().size());
    for (size_t k = 0; k < src->metadata().size(); ++k) {
        ASSERT_EQ(dst->metadata()[k].key, src->metadata()[k].key);
        expect_same(src->metadata()[k].value, dst->metadata()[k].value, std::string(src->metadata()[k].key));
    }
    ASSERT_EQ(dst->tensors().size(), src->tensors().size());
    for (size_t k = 0; k < src->tensors().size(); ++k) {
        const TensorInfo& a = src->tensors()[k];
        const TensorInfo& b = dst->tensors()[k];
        ASSERT_EQ(a.name, b.name);
        EXPECT_EQ(a.type, b.type);
        EXPECT_EQ(a.ne, b.ne);
        ASSERT_EQ(a.nbytes, b.nbytes);
        EXPECT_EQ(0, std::memcmp(a.data, b.data, size_t(a.nbytes))) << a.name;
    }
    // These files use the canonical layout (aligned, packed in order), so the copy is the same file.
    ASSERT_EQ(dst->size(), src->size());
    EXPECT_EQ(0, std::memcmp(dst->bytes(), src->bytes(), src->size()));
}

TEST(GgufWriter, CopyReproducesStories260K) {
    LD_REQUIRE_SHARED("models/stories260K.gguf");
    copy_real_file("models/stories260K.gguf");
}

TEST(GgufWriter, CopyReproducesTinyLlama31) {
    LD_REQUIRE_SHARED("models/tiny-llama31-random-f16.gguf");
    copy_real_file("models/tiny-llama31-random-f16.gguf");
}
