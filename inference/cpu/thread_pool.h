#pragma once
// A fixed set of worker threads that run one job at a time, split by thread index. The calling
// thread takes part as thread 0. Workers spin briefly before sleeping, because a decode step
// hands out a job every few microseconds.
#include <atomic>
#include <functional>
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
    // Runs fn(ith, nth) on every thread and returns when all are done.
    void run(const std::function<void(int, int)>& fn);

private:
    void worker(int ith);

    int n_;
    std::vector<std::thread> threads_;
    const std::function<void(int, int)>* job_ = nullptr;
    std::atomic<uint32_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stop_{false};
};

// Splits [0, n) into nth near-equal chunks aligned to `align`; returns thread ith's [begin, end).
inline void split_range(int64_t n, int ith, int nth, int64_t align, int64_t* begin, int64_t* end) {
    const int64_t units = (n + align - 1) / align;
    const int64_t per = units / nth, extra = units % nth;
    const int64_t b = ith * per + (ith < extra ? ith : extra);
    const int64_t e = b + per + (ith < extra ? 1 : 0);
    *begin = b * align < n ? b * align : n;
    *end = e * align < n ? e * align : n;
}

}  // namespace ld
