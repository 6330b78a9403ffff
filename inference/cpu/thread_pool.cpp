#include "inference/cpu/thread_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ld {

namespace {
inline void cpu_relax() {
#if defined(__x86_64__)
    _mm_pause();
#endif
}
// Waiting: first PAUSE spins (a decode step hands out a job every few microseconds), then
// yields, then a futex sleep. Yielding matters when the machine is oversubscribed (other
// processes, or more threads than cores): a pure spin burns the core that the thread being
// waited for needs, which made 2 threads slower than 1 on a busy 2-core machine.
constexpr int kPauseSpins = 2000;
constexpr int kSpins = 20000;

inline void backoff(int spins) {
    if (spins < kPauseSpins) cpu_relax();
    else std::this_thread::yield();
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_(n_threads < 1 ? 1 : n_threads), claims_(new Claim[size_t(n_)]) {
    for (int i = 1; i < n_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    generation_.fetch_add(1);
    generation_.notify_all();
    for (std::thread& t : threads_) t.join();
}

bool ThreadPool::try_run(uint32_t gen, int i) {
    // A chunk's claim word holds gen - 1 until someone claims it for job `gen`: every chunk of a
    // job is claimed before the next job starts, so a worker that wakes late (its `gen` already
    // finished) finds no chunk left and never touches a job_ that is gone.
    std::atomic<uint32_t>& claim = claims_[size_t(i)].gen;
    uint32_t expect = gen - 1;
    if (claim.load(std::memory_order_relaxed) != expect ||
        !claim.compare_exchange_strong(expect, gen, std::memory_order_acq_rel))
        return false;
    run_chunk(i);
    return true;
}

void ThreadPool::run_chunk(int i) {
    try {
        (*job_)(i, n_);
    } catch (...) {
        // The caller rethrows it once every chunk is done (fn's frame must outlive them).
        if (!error_set_.exchange(true)) error_ = std::current_exception();
    }
}

void ThreadPool::finish_chunk() {
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) remaining_.notify_one();
}

void ThreadPool::worker(int ith) {
    uint32_t seen = 0;
    for (;;) {
        int spins = 0;
        uint32_t g;
        while ((g = generation_.load(std::memory_order_acquire)) == seen) {
            if (++spins < kSpins) backoff(spins);
            else generation_.wait(seen);
        }
        seen = g;
        if (stop_.load()) return;
        // Own chunk first; the count goes down before looking at other chunks, so a caller
        // waiting for this one is not held up by the look. Chunk 0 is always the caller's.
        if (try_run(g, ith)) finish_chunk();
        for (int k = 1; k < n_ - 1 && remaining_.load(std::memory_order_relaxed) > 0; ++k) {
            const int i = ith + k < n_ ? ith + k : ith + k - n_ + 1;
            if (try_run(g, i)) finish_chunk();
        }
    }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
    if (n_ == 1) {
        fn(0, 1);
        return;
    }
    if (busy_.exchange(true, std::memory_order_acquire)) {
        // Nested (from inside a job) or concurrent: the workers belong to the run in progress.
        for (int i = 0; i < n_; ++i) fn(i, n_);
        return;
    }
    job_ = &fn;
    remaining_.store(n_, std::memory_order_relaxed);
    const uint32_t g = generation_.fetch_add(1, std::memory_order_release) + 1;
    generation_.notify_all();
    // Chunk 0 needs no claim: workers never take it. Then the chunks no worker has claimed yet
    // (workers that are asleep or waiting for a core), unless all are done already.
    run_chunk(0);
    int left = remaining_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    for (int i = 1; i < n_ && left > 0; ++i)
        if (try_run(g, i)) left = remaining_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    int spins = 0;
    while (left != 0) {
        if (++spins < kSpins) backoff(spins);
        else remaining_.wait(left);
        left = remaining_.load(std::memory_order_acquire);
    }
    job_ = nullptr;
    busy_.store(false, std::memory_order_release);
    if (error_set_.load()) {
        std::exception_ptr e = std::move(error_);
        error_ = nullptr;
        error_set_.store(false);
        std::rethrow_exception(e);
    }
}

}  // namespace ld
