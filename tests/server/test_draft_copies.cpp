// serve --parallel N --draft MODEL: how many copies of the draft model are made (one per request
// decoding at once, as memory allows), with stories260K as the draft and made-up memory budgets
// (the copies are tiny: nothing large is allocated).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "app/cli/server/draft_copies.h"
#include "engine/test_util.h"
#include "inference/backend/memory_plan.h"
#include "inference/core/error.h"
#include "inference/model/llama.h"

using namespace ld;

namespace {

const char* kModel = "models/stories260K.gguf";

BackendOptions cpuOptions() {
    BackendOptions o;
    o.kind = "cpu";
    o.n_threads = 1;
    o.n_ctx = 128;
    return o;
}

}  // namespace

TEST(DraftCopies, OneCopyIsWeightsKvCacheAndBuffers) {
    LD_REQUIRE_SHARED(kModel);
    const auto draft = load_model(test::shared_path(kModel));
    BackendOptions o = cpuOptions();
    const server::DraftCopyPlan plan = server::plan_draft_copies(*draft, o, 4, 0);
    EXPECT_EQ(plan.one.weights, draft->weight_bytes());
    EXPECT_EQ(plan.one.kv_cache, kv_cache_bytes(draft->params, 128, 2));
    EXPECT_GT(plan.one.buffers, 0u);
    EXPECT_EQ(plan.fitting(), 4);  // unknown free memory: all
    o.kv_type = GgmlType::F32;
    EXPECT_EQ(server::plan_draft_copies(*draft, o, 4, 0).one.kv_cache, 2 * plan.one.kv_cache);

    const uint64_t each = plan.one.need();
    const auto fitting = [&](uint64_t available) { return server::plan_draft_copies(*draft, cpuOptions(), 4, available).fitting(); };
    EXPECT_EQ(fitting(each * 5 / 2), 2);
    EXPECT_EQ(fitting(each * 4), 4);
    EXPECT_EQ(fitting(each * 40), 4);  // never more than wanted
    EXPECT_EQ(fitting(each), 1);
    EXPECT_EQ(fitting(each - 1), 0);
}

// Fewer copies than wanted: as many as the budget holds, one drafter over them, and a note that
// says how many and why.
TEST(DraftCopies, AsManyAsFitAndANote) {
    LD_REQUIRE_SHARED(kModel);
    const auto model = load_model(test::shared_path(kModel));
    const BackendOptions o = cpuOptions();
    const uint64_t each = server::plan_draft_copies(*model, o, 1, 0).one.need();

    server::DraftCopies some = server::make_draft_copies(*model, *model, "draft.gguf", o, 4, true, each * 5 / 2, " beside X");
    ASSERT_EQ(some.backends.size(), 2u);
    ASSERT_TRUE(some.drafter);
    EXPECT_EQ(some.drafter->name(), DraftModel(*model, *model, *some.backends[0]).name() + ", 2 copies");
    EXPECT_NE(some.note.find("2 of 4 copies of the draft model draft.gguf"), std::string::npos) << some.note;
    EXPECT_NE(some.note.find(format_bytes(each * 5 / 2) + " of memory available beside X"), std::string::npos) << some.note;
    EXPECT_NE(some.note.find(format_bytes(each)), std::string::npos) << some.note;
    // The copies draft: a few tokens after a story's start.
    some.drafter->begin(SamplerParams{});
    Draft d;
    some.drafter->draft({1, 403, 407}, 3, d);
    EXPECT_GE(d.tokens.size(), 1u);
    EXPECT_LE(d.tokens.size(), 3u);

    server::DraftCopies all = server::make_draft_copies(*model, *model, "draft.gguf", o, 3, true, each * 3);
    EXPECT_EQ(all.backends.size(), 3u);
    EXPECT_TRUE(all.note.empty()) << all.note;
    server::DraftCopies unknown = server::make_draft_copies(*model, *model, "draft.gguf", o, 3, true, 0);
    EXPECT_EQ(unknown.backends.size(), 3u);
    server::DraftCopies one = server::make_draft_copies(*model, *model, "draft.gguf", o, 1, true, each);
    ASSERT_EQ(one.backends.size(), 1u);
    EXPECT_EQ(one.drafter->name(), DraftModel(*model, *model, *one.backends[0]).name());  // no pool for one
}

// Not even one copy fits: a refusal that names the draft, what one copy needs and what is free.
TEST(DraftCopies, NotEvenOneIsARefusalWithTheNumbers) {
    LD_REQUIRE_SHARED(kModel);
    const auto model = load_model(test::shared_path(kModel));
    const BackendOptions o = cpuOptions();
    const server::DraftCopyPlan plan = server::plan_draft_copies(*model, o, 1, 0);
    const uint64_t available = plan.one.need() / 2;
    try {
        server::make_draft_copies(*model, *model, "draft.gguf", o, 8, true, available, " beside X");
        FAIL() << "made copies that do not fit";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("the draft model draft.gguf needs weights " + format_bytes(plan.one.weights)), std::string::npos) << m;
        EXPECT_NE(m.find("(128 positions)"), std::string::npos) << m;
        EXPECT_NE(m.find("= " + format_bytes(plan.one.need()) + " a copy"), std::string::npos) << m;
        EXPECT_NE(m.find("more than the " + format_bytes(available) + " of memory available beside X"), std::string::npos) << m;
    }
}
