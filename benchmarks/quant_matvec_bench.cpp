// Throwaway speed check of the CPU quant kernels (not built by CMake, not a test).
//   g++ -O3 -std=c++20 -I. benchmarks/quant_matvec_bench.cpp
//       build/inference/libllamadesk_engine.a -lpthread -o /tmp/quant_bench
//   /tmp/quant_bench Q4_0 2 [N ROWS]
// Prints matvec GB/s of weights read (one cache-resident matrix, and 8 rotating ones that stream
// from DRAM like decode does) and matmul GFLOP/s for 64 tokens, with N threads splitting rows.
// N x ROWS is the matrix (default 2048 x 8192, the 1B's ffn; 4096 x 14336 is the 8B's). Packed
// matrices sit in huge-page-advised memory as in the engine, and are also timed streaming for 4
// and 8 tokens (batched decode; GB/s of weights).
// LLAMADESK_BENCH_PACKED_ONLY=1 skips the GGUF-layout kernels.
// LLAMADESK_CPU_ISA=scalar|avx2 caps the kernels for comparisons. Wall-clock timing: run it on
// an otherwise idle machine.
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "inference/quant/quant.h"
#include "inference/quant/repack.h"

using namespace ld;

namespace {
// LLAMADESK_BENCH_CPUTIME=1: process CPU seconds instead of wall time, so a busy machine
// (descheduled threads) does not distort kernel comparisons; figures are then per core.
double now() {
    static const bool cpu = std::getenv("LLAMADESK_BENCH_CPUTIME") != nullptr;
    if (cpu) {
        timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int main(int argc, char** argv) {
    GgmlType t = GgmlType::Q4_0;
    if (argc > 1 && !parse_type_name(argv[1], &t)) return 1;
    const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
    const int64_t n = argc > 3 ? std::atoll(argv[3]) : 2048, rows = argc > 4 ? std::atoll(argv[4]) : 8192;
    const bool packed_only = std::getenv("LLAMADESK_BENCH_PACKED_ONLY") != nullptr;
    // LLAMADESK_BENCH_NMAT: matrices streamed in turn (8; e.g. 128 of the 8B shape is its 4.2 GB).
    const int64_t nmat = std::getenv("LLAMADESK_BENCH_NMAT") ? std::atoll(std::getenv("LLAMADESK_BENCH_NMAT")) : 8;
    const int64_t ntok = 64;
    const size_t rs = row_size(t, n);
    const GgmlType at = vec_dot_type(t);
    const size_t xs = row_size(at, n);

    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0, 0.02f);
    std::vector<float> tmp(size_t(n) * ntok);
    std::vector<std::vector<uint8_t>> mats(packed_only ? 1 : nmat, std::vector<uint8_t>(rs * rows));
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < n; ++i) tmp[size_t(i)] = nd(rng);
        quantize_row(t, tmp.data(), mats[0].data() + size_t(r) * rs, n);
    }
    for (size_t m = 1; m < mats.size(); ++m) mats[m] = mats[0];
    for (float& v : tmp) v = nd(rng);
    std::vector<uint8_t> xq(xs * ntok);
    for (int64_t b = 0; b < ntok; ++b) quantize_activation(at, tmp.data() + b * n, xq.data() + size_t(b) * xs, n);
    std::vector<float> y(size_t(rows * ntok));

    auto parallel = [&](auto&& body) {
        std::vector<std::thread> th;
        for (int k = 1; k < threads; ++k) th.emplace_back([&, k] { body(rows * k / threads, rows * (k + 1) / threads); });
        body(0, rows / threads);
        for (auto& h : th) h.join();
    };
    auto matvec_gbs = [&](int64_t mcount, int iters) {
        const double t0 = now();
        for (int it = 0; it < iters; ++it) {
            const uint8_t* W = mats[size_t(it % mcount)].data();
            parallel([&](int64_t r0, int64_t r1) { matvec(t, n, W, xq.data(), y.data(), r0, r1); });
        }
        return double(rs) * double(rows) * iters / (now() - t0) / 1e9;
    };
    if (!packed_only) {
        matvec_gbs(1, 5);
        std::printf("%s isa=%s threads=%d  matvec %lldx%lld cache-hot: %.1f GB/s\n", type_name(t),
                    isa_name(detected_isa()), threads, (long long)rows, (long long)n, matvec_gbs(1, 100));
        std::printf("%s isa=%s threads=%d  matvec %lldx%lld streaming %lld matrices: %.1f GB/s\n", type_name(t),
                    isa_name(detected_isa()), threads, (long long)rows, (long long)n, (long long)nmat,
                    matvec_gbs(nmat, 160));
    }
    if (can_repack(t, n)) {
        // One huge-page-advised mapping, as CpuBackend::repack_weights makes (4 KB pages would
        // add a TLB miss per page to the streaming figures).
        const size_t ps = (packed_size(t, n, rows) + (size_t(2) << 20) - 1) & ~((size_t(2) << 20) - 1);
        void* mem = mmap(nullptr, ps * nmat, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) return 1;
        madvise(mem, ps * nmat, MADV_HUGEPAGE);
        std::vector<uint8_t*> packed(nmat);
        for (int64_t m = 0; m < nmat; ++m) {
            packed[size_t(m)] = static_cast<uint8_t*>(mem) + size_t(m) * ps;
            repack_groups(t, n, rows, mats[0].data(), packed[size_t(m)], 0, (rows + kPackRows - 1) / kPackRows);
        }
        auto packed_gbs = [&](int64_t mcount, int iters, int64_t tok) {
            const double t0 = now();
            for (int it = 0; it < iters; ++it) {
                const uint8_t* P = packed[size_t(it % mcount)];
                parallel([&](int64_t r0, int64_t r1) {
                    packed_matmul(t, n, rows, P, xq.data(), tok, y.data(), rows, r0 & ~int64_t(15), r1 & ~int64_t(15));
                });
            }
            return double(rs) * double(rows) * iters / (now() - t0) / 1e9;
        };
        // ~the same bytes at every shape, and every matrix at least once
        const int sit = int(std::max<int64_t>(int64_t(160) * 2048 * 8192 / (n * rows) + 8, nmat));
        packed_gbs(1, 5, 1);
        std::printf("%s packed threads=%d  matvec cache-hot: %.1f GB/s, streaming: %.1f GB/s\n", type_name(t),
                    threads, packed_gbs(1, 100, 1), packed_gbs(nmat, sit, 1));
        for (int64_t tok : {4, 8})
            std::printf("%s packed threads=%d  matmul %lld tokens cache-hot: %.1f GB/s, streaming: %.1f GB/s\n",
                        type_name(t), threads, (long long)tok, packed_gbs(1, 40, tok), packed_gbs(nmat, sit / 2, tok));
        const int it3 = 3;
        const double t0 = now();
        for (int it = 0; it < it3; ++it)
            parallel([&](int64_t r0, int64_t r1) {
                packed_matmul(t, n, rows, packed[0], xq.data(), ntok, y.data(), rows, r0 & ~int64_t(15), r1 & ~int64_t(15));
            });
        const double dt = (now() - t0) / it3;
        std::printf("%s packed threads=%d  matmul %lld tokens: %.1f GFLOP/s\n", type_name(t), threads,
                    (long long)ntok, 2.0 * double(n) * double(rows) * ntok / dt / 1e9);
        munmap(mem, ps * nmat);
    }
    if (packed_only) return 0;
    const int iters = 3;
    const double t0 = now();
    for (int it = 0; it < iters; ++it)
        parallel([&](int64_t r0, int64_t r1) { matmul(t, n, mats[0].data(), xq.data(), ntok, y.data(), rows, r0, r1); });
    const double dt = (now() - t0) / iters;
    std::printf("%s isa=%s threads=%d  matmul %lld tokens: %.1f GFLOP/s\n", type_name(t), isa_name(detected_isa()),
                threads, (long long)ntok, 2.0 * double(n) * double(rows) * ntok / dt / 1e9);
}
