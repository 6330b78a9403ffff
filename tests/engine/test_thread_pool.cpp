// The CPU thread pool: every chunk of a job runs exactly once, on a quiet machine and beside
// threads hogging the cores (where late workers' chunks are taken by whoever runs), for nested
// and concurrent run() calls, and results do not depend on which thread ran a chunk.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "inference/cpu/thread_pool.h"

namespace ld {
namespace {

// Spinning threads that compete with the pool for the cores while alive.
class Hogs {
public:
    explicit Hogs(int n) {
        for (int i = 0; i < n; ++i)
            threads_.emplace_back([this] {
                volatile uint64_t x = 0;
                while (!stop_.load(std::memory_order_relaxed)) x = x + 1;
            });
    }
    ~Hogs() {
        stop_ = true;
        for (std::thread& t : threads_) t.join();
    }

private:
    std::atomic<bool> stop_{false};
    std::vector<std::thread> threads_;
};

// Runs `jobs` jobs and checks each one called every ith in [0, size) exactly once, with nth ==
// size, and that run() returned only after all of them. Each chunk spins for `work_us` so that
// workers get to claim chunks (an empty job is all done by the caller before they wake).
// Returns how many chunks the calling thread ran.
int expect_each_chunk_once(ThreadPool& pool, int jobs, double work_us = 0) {
    const int n = pool.size();
    const std::thread::id caller = std::this_thread::get_id();
    std::vector<std::atomic<int>> count(static_cast<size_t>(n));
    std::atomic<int> bad_nth{0}, on_caller{0};
    for (int job = 0; job < jobs; ++job) {
        for (auto& c : count) c.store(0);
        pool.run([&](int ith, int nth) {
            if (nth != n || ith < 0 || ith >= n) {
                bad_nth++;
                return;
            }
            const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double, std::micro>(work_us);
            while (std::chrono::steady_clock::now() < until) {
            }
            if (std::this_thread::get_id() == caller) on_caller++;
            count[size_t(ith)].fetch_add(1);
        });
        for (int i = 0; i < n; ++i) {
            EXPECT_EQ(count[size_t(i)].load(), 1) << "job " << job << " chunk " << i;
            if (count[size_t(i)].load() != 1) return -1;
        }
    }
    EXPECT_EQ(bad_nth.load(), 0);
    return on_caller.load();
}

TEST(ThreadPool, EachChunkOnceMoreThreadsThanCores) {
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    for (int n : {1, 2, 3, 2 * cores + 1}) {
        ThreadPool pool(n);
        EXPECT_EQ(pool.size(), n);
        expect_each_chunk_once(pool, 1000);
        expect_each_chunk_once(pool, 300, 2.0);
    }
}

TEST(ThreadPool, EachChunkOnceBesideHogs) {
    // Timings are printed, not asserted: the machine's load is not the test's to control.
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    Hogs hogs(cores);
    for (int n : {2, cores + 1}) {
        ThreadPool pool(n);
        const int jobs = 1000;
        const auto t0 = std::chrono::steady_clock::now();
        const int on_caller = expect_each_chunk_once(pool, jobs, 5.0);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        std::printf("[ info ] %d threads beside %d hogs: %.1f us per job of %d x 5 us chunks, %.0f%% of chunks on the caller\n",
                    n, cores, ms * 1000 / jobs, n, 100.0 * on_caller / (jobs * n));
    }
}

TEST(ThreadPool, ZeroOrNegativeThreadsMeansOne) {
    ThreadPool pool(0);
    EXPECT_EQ(pool.size(), 1);
    ThreadPool neg(-3);
    EXPECT_EQ(neg.size(), 1);
    expect_each_chunk_once(neg, 10);
}

TEST(ThreadPool, NestedRunRunsInlineOnce) {
    ThreadPool pool(3);
    std::vector<std::atomic<int>> inner(9);
    for (int job = 0; job < 200; ++job) {
        for (auto& c : inner) c.store(0);
        pool.run([&](int ith, int nth) {
            // A job that itself calls run(): the workers are busy with the outer job, so the
            // inner chunks run on this thread, each once.
            pool.run([&](int jth, int) { inner[size_t(ith * nth + jth)].fetch_add(1); });
        });
        for (size_t i = 0; i < inner.size(); ++i) ASSERT_EQ(inner[i].load(), 1) << "job " << job << " cell " << i;
    }
}

TEST(ThreadPool, ConcurrentCallersEachGetWholeJobs) {
    ThreadPool pool(3);
    auto caller = [&pool](std::atomic<int>* failures) {
        for (int job = 0; job < 500; ++job) {
            int cells[3] = {0, 0, 0};  // each chunk writes only its own cell
            pool.run([&](int ith, int) { cells[ith]++; });
            if (cells[0] != 1 || cells[1] != 1 || cells[2] != 1) (*failures)++;
        }
    };
    std::atomic<int> failures{0};
    std::thread a(caller, &failures), b(caller, &failures);
    a.join();
    b.join();
    EXPECT_EQ(failures.load(), 0);
}

TEST(ThreadPool, BackToBackJobsSeeEarlierResults) {
    // Each job reads cells that other chunks of the previous job wrote: run() must return only
    // after all writes, and the next job's chunks must see them.
    const size_t n = 4096;
    auto next = [n](const std::vector<uint64_t>& a, size_t i) { return a[i] * 3 + a[(i * 7 + 1) % n]; };
    ThreadPool pool(4);
    std::vector<uint64_t> a(n), b(n);
    for (size_t i = 0; i < n; ++i) a[i] = i;
    std::vector<uint64_t> x = a, y(n);
    for (int step = 0; step < 300; ++step) {
        pool.run([&](int ith, int nth) {
            int64_t lo, hi;
            split_range(int64_t(n), ith, nth, 16, &lo, &hi);
            for (int64_t i = lo; i < hi; ++i) b[size_t(i)] = next(a, size_t(i));
        });
        a.swap(b);
        for (size_t i = 0; i < n; ++i) y[i] = next(x, i);
        x.swap(y);
    }
    EXPECT_EQ(a, x);
}

TEST(ThreadPool, DestroyWhileIdle) {
    for (int i = 0; i < 20; ++i) {
        ThreadPool fresh(3);  // workers may not have started yet
    }
    ThreadPool pool(3);
    expect_each_chunk_once(pool, 5);
    // Long enough for the workers to stop spinning and sleep in the kernel.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

TEST(ThreadPool, ChunkExceptionIsRethrownAfterTheJob) {
    ThreadPool pool(3);
    for (int bad : {0, 2}) {
        std::atomic<int> ran{0};
        EXPECT_THROW(pool.run([&](int ith, int) {
                         if (ith == bad) throw std::runtime_error("chunk failed");
                         std::this_thread::sleep_for(std::chrono::milliseconds(5));
                         ran++;
                     }),
                     std::runtime_error);
        EXPECT_EQ(ran.load(), 2);  // the other chunks finished before run() rethrew
        expect_each_chunk_once(pool, 50);  // and the pool still works
    }
}

// A matmul-like job in the CPU backend's shape: rows split by split_range, per-chunk scratch
// indexed by ith (like the attention scores). The bytes must match one thread's, whichever
// threads ran the chunks.
std::vector<float> matvec_with_pool(ThreadPool& pool, const std::vector<float>& w, const std::vector<float>& x,
                                    int rows, int cols) {
    std::vector<float> y(size_t(rows), 0.0f);
    std::vector<float> scratch(size_t(pool.size()) * size_t(cols));
    for (int rep = 0; rep < 50; ++rep) {
        pool.run([&](int ith, int nth) {
            float* s = scratch.data() + size_t(ith) * size_t(cols);
            int64_t r0, r1;
            split_range(rows, ith, nth, 16, &r0, &r1);
            for (int64_t r = r0; r < r1; ++r) {
                for (int c = 0; c < cols; ++c) s[c] = w[size_t(r) * size_t(cols) + size_t(c)] * x[size_t(c)];
                float acc = 0.0f;
                for (int c = 0; c < cols; ++c) acc += s[c] * (1.0f + 1e-3f * float(rep));
                y[size_t(r)] += acc;
            }
        });
    }
    return y;
}

TEST(ThreadPool, MatvecBitIdenticalToOneThread) {
    const int rows = 333, cols = 97;
    std::vector<float> w(static_cast<size_t>(rows) * cols), x(static_cast<size_t>(cols));
    uint32_t s = 12345;
    auto rnd = [&s] {
        s = s * 1664525u + 1013904223u;
        return float(int32_t(s >> 8) - (1 << 23)) / float(1 << 23);
    };
    for (float& v : w) v = rnd();
    for (float& v : x) v = rnd();
    ThreadPool one(1);
    const std::vector<float> ref = matvec_with_pool(one, w, x, rows, cols);
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    Hogs hogs(cores);
    for (int n : {2, 3, cores + 2}) {
        ThreadPool pool(n);
        const std::vector<float> y = matvec_with_pool(pool, w, x, rows, cols);
        EXPECT_EQ(std::memcmp(y.data(), ref.data(), ref.size() * sizeof(float)), 0) << n << " threads";
    }
}

// RangeClaimer (the matmuls' row claims): the threads of a job, beside hogs that make some of
// them late, get ranges that cover [0, n) exactly once, start on `align` boundaries, are at
// least min_len long (but the last), and never grow: a late thread finds only short ones left.
TEST(ThreadPool, RangeClaimsCoverEachRowOnce) {
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    Hogs hogs(cores);
    for (int nth : {1, 2, 3, cores + 2}) {
        ThreadPool pool(nth);
        for (int64_t n : {int64_t(0), int64_t(5), int64_t(64), int64_t(1000), int64_t(16384), int64_t(128256)}) {
            const int64_t align = 16, min_len = 64;
            std::vector<std::atomic<int>> hits(size_t(n) + 1);
            std::vector<std::vector<std::pair<int64_t, int64_t>>> got(static_cast<size_t>(nth));
            RangeClaimer claim(n, nth, align, min_len);
            pool.run([&](int ith, int) {
                for (int64_t b, e; claim.next(&b, &e);) {
                    got[size_t(ith)].push_back({b, e});
                    for (int64_t i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
                }
            });
            for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "row " << i << " of " << n;
            for (const auto& g : got)
                for (size_t k = 0; k < g.size(); ++k) {
                    const auto [b, e] = g[k];
                    EXPECT_EQ(b % align, 0) << b;
                    EXPECT_TRUE(e - b >= min_len || e == n) << b << ".." << e << " of " << n;
                    // One thread's claims come in order, each at most as long as the one before.
                    if (k > 0) {
                        EXPECT_GT(b, g[k - 1].first);
                        EXPECT_LE(e - b, g[k - 1].second - g[k - 1].first);
                    }
                }
            int64_t b, e;
            EXPECT_FALSE(claim.next(&b, &e)) << "rows left after the job";
        }
    }
}

}  // namespace
}  // namespace ld
