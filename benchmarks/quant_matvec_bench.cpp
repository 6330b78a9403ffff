// Throwaway speed check of the CPU quant kernels (not built by CMake, not a test).
//   g++ -O3 -std=c++20 -I. benchmarks/quant_matvec_bench.cpp
//       build/inference/libllamadesk_engine.a -lpthread -o /tmp/quant_bench
//   /tmp/quant_bench Q4_0 2
// Prints matvec GB/s of weights read (one cache-resident matrix, and 8 rotating ones that stream
// from DRAM like decode does) and matmul GFLOP/s for 64 tokens, with N threads splitting rows.
// LLAMADESK_CPU_ISA=scalar|avx2 caps the kernels for comparisons. Wall-clock timing: run it on
// an otherwise idle machine.
#include <time.h>

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
    const int64_t n = 2048, rows = 8192, nmat = 8, ntok = 64;
    const size_t rs = row_size(t, n);
    const GgmlType at = vec_dot_type(t);
    const size_t xs = row_size(at, n);

    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0, 0.02f);
    std::vector<float> tmp(size_t(n) * ntok);
    std::vector<std::vector<uint8_t>> mats(nmat, std::vector<uint8_t>(rs * rows));
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < n; ++i) tmp[size_t(i)] = nd(rng);
        quantize_row(t, tmp.data(), mats[0].data() + size_t(r) * rs, n);
    }
    for (int64_t m = 1; m < nmat; ++m) mats[size_t(m)] = mats[0];
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
    matvec_gbs(1, 5);
    std::printf("%s isa=%s threads=%d  matvec %lldx%lld cache-hot: %.1f GB/s\n", type_name(t),
                isa_name(detected_isa()), threads, (long long)rows, (long long)n, matvec_gbs(1, 100));
    std::printf("%s isa=%s threads=%d  matvec %lldx%lld streaming %lld matrices: %.1f GB/s\n", type_name(t),
                isa_name(detected_isa()), threads, (long long)rows, (long long)n, (long long)nmat,
                matvec_gbs(nmat, 160));
    if (can_repack(t, n)) {
        std::vector<std::vector<uint8_t>> packed(nmat);
        for (auto& p : packed) {
            p.resize(packed_size(t, n, rows));
            repack_groups(t, n, rows, mats[0].data(), p.data(), 0, (rows + kPackRows - 1) / kPackRows);
        }
        auto packed_gbs = [&](int64_t mcount, int iters) {
            const double t0 = now();
            for (int it = 0; it < iters; ++it) {
                const uint8_t* P = packed[size_t(it % mcount)].data();
                parallel([&](int64_t r0, int64_t r1) {
                    packed_matvec(t, n, rows, P, xq.data(), y.data(), r0 & ~int64_t(15), r1 & ~int64_t(15));
                });
            }
            return double(rs) * double(rows) * iters / (now() - t0) / 1e9;
        };
        packed_gbs(1, 5);
        std::printf("%s packed threads=%d  matvec cache-hot: %.1f GB/s, streaming: %.1f GB/s\n", type_name(t),
                    threads, packed_gbs(1, 100), packed_gbs(nmat, 160));
        const int it3 = 3;
        const double t0 = now();
        for (int it = 0; it < it3; ++it)
            parallel([&](int64_t r0, int64_t r1) {
                packed_matmul(t, n, rows, packed[0].data(), xq.data(), ntok, y.data(), rows, r0 & ~int64_t(15), r1 & ~int64_t(15));
            });
        const double dt = (now() - t0) / it3;
        std::printf("%s packed threads=%d  matmul %lld tokens: %.1f GFLOP/s\n", type_name(t), threads,
                    (long long)ntok, 2.0 * double(n) * double(rows) * ntok / dt / 1e9);
    }
    const int iters = 3;
    const double t0 = now();
    for (int it = 0; it < iters; ++it)
        parallel([&](int64_t r0, int64_t r1) { matmul(t, n, mats[0].data(), xq.data(), ntok, y.data(), rows, r0, r1); });
    const double dt = (now() - t0) / iters;
    std::printf("%s isa=%s threads=%d  matmul %lld tokens: %.1f GFLOP/s\n", type_name(t), isa_name(detected_isa()),
                threads, (long long)ntok, 2.0 * double(n) * double(rows) * ntok / dt / 1e9);
}
