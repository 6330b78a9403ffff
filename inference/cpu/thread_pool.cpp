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

ThreadPool::ThreadPool(int n_threads) : n_(n_threads < 1 ? 1 : n_threads) {
    for (int i = 1; i < n_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    generation_.fetch_add(1);
    generation_.notify_all();
    for (std::thread& t : threads_) t.join();
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
        (*job_)(ith, n_);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
    if (n_ == 1) {
        fn(0, 1);
        return;
    }
    job_ = &fn;
    pending_.store(n_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    fn(0, n_);
    int spins = 0;
    int left;
    while ((left = pending_.load(std::memory_order_acquire)) != 0) {
        if (++spins < kSpins) backoff(spins);
        else pending_.wait(left);
    }
}

}  // namespace ld
