// gguf::File::open_header, the header-only read that model listings use: it gives the same
// metadata and tensor table as the mapped read, reads only the header's bytes, still describes a
// file whose tensor data is cut short (data_problem() says so), and fails cleanly on a malformed
// header. The loader's checks run on it without touching weights.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "inference/gguf/gguf.h"
#include "inference/gguf/gguf_writer.h"
#include "inference/model/llama.h"
#include "test_util.h"

using namespace ld;
using namespace ld::gguf;

namespace {

std::string temp_path(const char* name) {
    return (std::filesystem::temp_directory_path() / (std::to_string(getpid()) + "_" + name)).string();
}

void write_bytes(const std::string& path, const char* data, size_t n) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data, std::streamsize(n));
}

// Same keys, values' types, tensor names, types, shapes and offsets.
void expect_same_header(const File& full, const File& head) {
    EXPECT_EQ(head.version(), full.version());
    EXPECT_EQ(head.alignment(), full.alignment());
    EXPECT_EQ(head.data_offset(), full.data_offset());
    EXPECT_EQ(head.size(), full.size());
    ASSERT_EQ(head.metadata().size(), full.metadata().size());
    for (size_t k = 0; k < full.metadata().size(); ++k) {
        EXPECT_EQ(head.metadata()[k].key, full.metadata()[k].key);
        EXPECT_EQ(head.metadata()[k].value.type, full.metadata()[k].value.type);
        EXPECT_EQ(head.metadata()[k].value.str, full.metadata()[k].value.str);
        EXPECT_EQ(head.metadata()[k].value.count, full.metadata()[k].value.count);
    }
    ASSERT_EQ(head.tensors().size(), full.tensors().size());
    for (size_t k = 0; k < full.tensors().size(); ++k) {
        const TensorInfo& a = full.tensors()[k];
        const TensorInfo& b = head.tensors()[k];
        EXPECT_EQ(b.name, a.name);
        EXPECT_EQ(b.type, a.type);
        EXPECT_EQ(b.ne, a.ne);
        EXPECT_EQ(b.offset, a.offset);
        EXPECT_EQ(b.nbytes, a.nbytes);
        EXPECT_EQ(b.data, nullptr);
    }
}

}  // namespace

// Every reference model: the header read agrees with the mapped one, reads no more than the
// header (rounded up to the first 1 MiB chunk or the next doubling), and the loader describes it
// exactly as it describes the mapped file.
TEST(GgufHeader, SameAsMappedReadOnRealModels) {
    LD_REQUIRE_SHARED("models/stories260K.gguf");
    LD_REQUIRE_SHARED("models/k256/tiny-llama-k256-Q4_K_M.gguf");
    std::vector<std::string> files;
    for (const char* dir : {"models", "models/k256"})
        for (const auto& e : std::filesystem::directory_iterator(ld::test::shared_path(dir)))
            if (e.path().extension() == ".gguf") files.push_back(e.path().string());
    ASSERT_GE(files.size(), 10u);
    for (const std::string& path : files) {
        SCOPED_TRACE(path);
        auto full = File::open(path);
        auto head = File::open_header(path);
        EXPECT_FALSE(head->has_tensor_data());
        EXPECT_EQ(head->data_problem(), "");
        expect_same_header(*full, *head);
        // The header is all that was read: the first 256 KiB chunk, or at most twice the header.
        EXPECT_LE(head->bytes_read(), std::max<uint64_t>(2 * head->data_offset(), 256u << 10));
        if (full->size() > (1u << 20)) {
            EXPECT_LT(head->bytes_read(), full->size() / 2) << head->bytes_read() << " of " << full->size();
        }

        auto a = load_model(path);
        auto b = load_model(std::move(head));
        EXPECT_EQ(b->name, a->name);
        EXPECT_EQ(b->parameter_count(), a->parameter_count());
        EXPECT_EQ(b->dominant_type(), a->dominant_type());
        EXPECT_EQ(b->params.ctx_train, a->params.ctx_train);
        EXPECT_EQ(b->params.n_layers, a->params.n_layers);
        EXPECT_EQ(b->tied_output, a->tied_output);
        EXPECT_EQ(b->vocab.tokens.size(), a->vocab.tokens.size());
        EXPECT_EQ(b->tok_embd.data, nullptr);
    }
}

// A download cut off inside the tensor data: the mapped read refuses it, the header read still
// gives the metadata and says which tensor is missing.
TEST(GgufHeader, TruncatedTensorDataStillDescribesTheModel) {
    LD_REQUIRE_SHARED("models/tiny-llama31-random-f16.gguf");
    const std::vector<char> bytes = ld::test::read_file(ld::test::shared_path("models/tiny-llama31-random-f16.gguf"));
    auto full = File::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    const size_t cut = size_t(full->data_offset() + (full->size() - full->data_offset()) / 3);
    const std::string path = temp_path("truncated.gguf");
    write_bytes(path, bytes.data(), cut);
    EXPECT_THROW(File::open(path), Error);
    auto head = File::open_header(path);
    std::filesystem::remove(path);
    EXPECT_NE(head->data_problem().find("lies outside the file"), std::string::npos) << head->data_problem();
    EXPECT_EQ(head->get_string("general.architecture"), "llama");
    EXPECT_EQ(head->tensors().size(), full->tensors().size());
    EXPECT_LT(head->bytes_read(), cut);
    auto model = load_model(std::move(head));
    EXPECT_GT(model->parameter_count(), 0);
    EXPECT_EQ(model->vocab.tokens.size(), 128256u);

    // Cut inside the header itself: that is an error saying the file is too short.
    const std::string short_path = temp_path("short.gguf");
    write_bytes(short_path, bytes.data(), 5000);
    try {
        File::open_header(short_path);
        ADD_FAILURE() << "a header cut short was accepted";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_TRUE(what.find("file ends inside") != std::string::npos || what.find("exceeds the file") != std::string::npos)
            << what;
    }
    std::filesystem::remove(short_path);
}

// The growing reads start small for buffers (parse_header): a header spanning many chunks, with
// strings straddling chunk borders, parses the same as the whole buffer.
TEST(GgufHeader, GrowingReadsMatchWholeBuffer) {
    Writer w;
    w.set_string("general.architecture", "llama");
    w.set_string("general.name", std::string(5000, 'n'));
    for (int k = 0; k < 50; ++k) w.set_u32("key." + std::to_string(k), uint32_t(k));
    static const float data[64] = {};
    w.add_tensor("a.weight", GgmlType::F32, {8, 8}, data);
    const std::string path = temp_path("grow.gguf");
    w.write(path);
    const std::vector<char> bytes = ld::test::read_file(path);
    std::filesystem::remove(path);
    auto full = File::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    auto head = File::parse_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    expect_same_header(*full, *head);
    EXPECT_EQ(head->get_string("general.name")->size(), 5000u);
    EXPECT_EQ(head->get_u64("key.49"), 49u);
    EXPECT_LE(head->bytes_read(), bytes.size());
}

// Hostile headers end in ld::Error, never a crash or a huge allocation: an absurd string length,
// a metadata count the file cannot hold, a file that is not GGUF, an empty file.
TEST(GgufHeader, MalformedHeadersFailCleanly) {
    struct Case {
        const char* name;
        std::vector<uint8_t> bytes;
        const char* expect;
    };
    auto header = [](uint64_t n_tensors, uint64_t n_kv) {
        std::vector<uint8_t> b(24);
        const uint32_t magic = 0x46554747, version = 3;
        std::memcpy(b.data(), &magic, 4);
        std::memcpy(b.data() + 4, &version, 4);
        std::memcpy(b.data() + 8, &n_tensors, 8);
        std::memcpy(b.data() + 16, &n_kv, 8);
        return b;
    };
    std::vector<Case> cases;
    cases.push_back({"not gguf", {'h', 'e', 'l', 'l', 'o', '!', '!', '!'}, "not a GGUF"});
    cases.push_back({"kv count", header(0, uint64_t(1) << 60), "exceeds the file"});
    {
        std::vector<uint8_t> b = header(0, 1);
        const uint64_t len = uint64_t(1) << 62;
        b.resize(b.size() + 8 + 64);
        std::memcpy(b.data() + 24, &len, 8);
        cases.push_back({"key length", b, "absurd length"});
    }
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string path = temp_path("bad.gguf");
        write_bytes(path, reinterpret_cast<const char*>(c.bytes.data()), c.bytes.size());
        try {
            File::open_header(path);
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).rfind(path, 0), 0u) << "names the file: " << e.what();
        }
        std::filesystem::remove(path);
    }
    const std::string empty = temp_path("empty.gguf");
    write_bytes(empty, "", 0);
    EXPECT_THROW(File::open_header(empty), Error);
    std::filesystem::remove(empty);
    EXPECT_THROW(File::open_header(temp_path("missing.gguf")), Error);
}
