#pragma once
// A fixed set of worker threads that run one job at a time, split into size() chunks. The calling
// thread takes part. Workers spin briefly before sleeping, because a decode step hands out a job
// every few microseconds.
//
// Chunks are claimed, not assigned: the caller runs chunk 0, worker i first claims chunk i (on a
// quiet machine every thread keeps its own rows, as with a fixed split), then any chunk nobody
// has claimed yet. On a busy machine a worker that is waiting for a time slice would otherwise
// hold up every job (the caller waited a slice per job); now whoever is running does its share.
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace ld {

class ThreadPool {
public:
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_; }
    // Runs fn(ith, nth) once for every ith in [0, nth), nth == size(), and returns when all are
    // done. Each ith runs on exactly one thread, never two at once, but not necessarily on thread
    // ith, and one thread may run several: scratch indexed by ith, or thread_local scratch used
    // within one call, is safe; anything assuming chunk ith always runs on thread ith (or on the
    // same thread as last time) is not. A run() made while another is in progress (from inside a
    // job, or from a second thread) runs its chunks one after another on its own thread. An
    // exception thrown by a chunk is rethrown here once every chunk has finished.
    void run(const std::function<void(int, int)>& fn);

private:
    void worker(int ith);
    // Runs chunk i of job `gen` if nobody has claimed it yet; false if somebody had.
    bool try_run(uint32_t gen, int i);
    void run_chunk(int i);
    void finish_chunk();  // a worker's chunk is done: count it, wake the caller after the last

    // One claim word per chunk, a cache line each: holds the last generation that claimed it.
    struct alignas(64) Claim {
        std::atomic<uint32_t> gen{0};
    };

    int n_;
    std::unique_ptr<Claim[]> claims_;
    std::vector<std::thread> threads_;
    // Cache lines: what the caller publishes and the workers poll; the count every chunk's end
    // writes; the caller's own state.
    alignas(64) std::atomic<uint32_t> generation_{0};
    const std::function<void(int, int)>* job_ = nullptr;
    alignas(64) std::atomic<int> remaining_{0};  // chunks of the current job not yet finished
    alignas(64) std::atomic<bool> busy_{false};  // a run() is in progress
    std::atomic<bool> stop_{false};
    // A chunk's exception, rethrown by run() after the whole job (first one wins).
    std::atomic<bool> error_set_{false};
    std::exception_ptr error_;
};

// Hands out ranges of [0, n) to the threads of one job, largest first: each claim takes a share
// of what is left (1 / (2 nth) of it, at least `min_len`, aligned to `align`). A thread that
// falls behind (waiting for a time slice, a slower core) leaves the rest of the rows to the
// others, so a job's threads finish together instead of waiting at its end for the slowest half
// (what a fixed split does: ~8% of a decode step was such waits). Early claims are long runs,
// which keeps the hardware prefetcher streaming; only the tail is cut fine.
class RangeClaimer {
public:
    RangeClaimer(int64_t n, int nth, int64_t align, int64_t min_len)
        : n_(n), div_(2 * (nth < 1 ? 1 : nth)), align_(align < 1 ? 1 : align), min_(min_len) {}
    // The next range [*begin, *end), or false when all of [0, n) is taken.
    bool next(int64_t* begin, int64_t* end) {
        int64_t b = pos_.load(std::memory_order_relaxed);
        for (;;) {
            if (b >= n_) return false;
            int64_t take = (n_ - b) / div_;
            if (take < min_) take = min_;
            take = (take + align_ - 1) / align_ * align_;
            const int64_t e = n_ - b < take ? n_ : b + take;
            // Relaxed: the rows' results are published by ThreadPool::run's completion.
            if (pos_.compare_exchange_weak(b, e, std::memory_order_relaxed)) {
                *begin = b;
                *end = e;
                return true;
            }
        }
    }

private:
    alignas(64) std::atomic<int64_t> pos_{0};
    int64_t n_, div_, align_, min_;
};

// Splits [0, n) into nth near-equal chunks aligned to `align`; returns chunk ith's [begin, end).
inline void split_range(int64_t n, int ith, int nth, int64_t align, int64_t* begin, int64_t* end) {
    const int64_t units = (n + align - 1) / align;
    const int64_t per = units / nth, extra = units % nth;
    const int64_t b = ith * per + (ith < extra ? ith : extra);
    const int64_t e = b + per + (ith < extra ? 1 : 0);
    *begin = b * align < n ? b * align : n;
    *end = e * align < n ? e * align : n;
}

}  // namespace ld
