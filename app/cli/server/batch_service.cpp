#include "app/cli/server/batch_service.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "app/cli/server/gen_queue.h"
#include "inference/session/prompt_budget.h"

namespace ld::server {

namespace {

SchedulerOptions scheduler_options(size_t parallel) {
    SchedulerOptions o;
    o.max_sequences = int(std::clamp<size_t>(parallel, 1, 1 << 20));
    return o;
}

}  // namespace

BatchedGeneration::BatchedGeneration(Backend& backend, ServedModel served, size_t parallel, size_t capacity,
                                     DraftConfig draft)
    : served_(std::move(served)),
      capacity_(std::max<size_t>(1, capacity)),
      draft_(draft),
      scheduler_(backend, *served_.tokenizer, scheduler_options(parallel)) {
    scheduler_.set_prompt_budget(kInitialPromptBudget);
    worker_ = std::thread([this] { run(); });
}

BatchedGeneration::~BatchedGeneration() {
    shutdown();
    worker_.join();
}

void BatchedGeneration::shutdown() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    wake_.notify_all();
}

void BatchedGeneration::run() {
    using Clock = std::chrono::steady_clock;
    for (;;) {
        uint64_t seen = 0;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (stop_) break;
            seen = submitted_;
        }
        const int64_t before = scheduler_.stats().tokens_run;
        const auto t0 = Clock::now();
        const bool more = scheduler_.step();
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        scheduler_.set_prompt_budget(paced_prompt_budget(scheduler_.prompt_budget(), scheduler_.stats().tokens_run - before, ms));
        if (more) continue;
        // Idle: a cancel needs no step (nothing runs), so only a new job or the end wakes it. A
        // job submitted during the step moved submitted_ past `seen`.
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stop_ || submitted_ != seen; });
    }
    // Every job still waiting or running ends as cancelled: run() does that at once after
    // shutdown() (and stepping no more).
    scheduler_.shutdown();
    scheduler_.run();
}

bool BatchedGeneration::submit(const std::shared_ptr<GenJob>& job) {
    // The request's callbacks own the job's output state; the scheduler calls them on its thread
    // and drops them once on_finished has run.
    draft_.apply(*job);
    auto out = std::make_shared<JobOutput>(*job, *served_.tokenizer);
    BatchRequest r;
    r.prompt = job->prompt;
    r.options = out->options();  // refers to *out, kept alive by the callbacks below
    r.priority = Priority::Api;  // one priority: the scheduler starts them in arrival order
    r.on_text = [out](std::string_view text) { return out->text(text); };
    r.on_finished = [this, job, out](const BatchOutcome& o) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            --admitted_;
        }
        out->finish(o.result);
        job->end(o.result, o.error);
    };
    // Under mu_ so that shutdown() cannot slip between the check and the scheduler's inbox (a job
    // queued after run() ended would never finish). Lock order: mu_, then the scheduler's.
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || admitted_ >= capacity_) return false;
    try {
        scheduler_.submit(std::move(r));
    } catch (const std::exception& e) {  // a prompt the engine can never run: the job fails in words
        job->end({}, e.what());
        return true;
    }
    ++admitted_;  // on_finished (scheduler thread) waits for mu_, so it cannot run before this
    ++submitted_;
    wake_.notify_all();
    return true;
}

void BatchedGeneration::cancel(const std::shared_ptr<GenJob>& job) {
    job->cancel.store(true);
}

}  // namespace ld::server
