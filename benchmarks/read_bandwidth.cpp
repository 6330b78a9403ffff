// Measures this machine's DRAM read bandwidth: N threads sum a 1 GiB buffer (AVX2 loads),
// the physical limit a bandwidth-bound decode step is compared against.
// g++ -O2 -mavx2 -pthread benchmarks/read_bandwidth.cpp -o read_bandwidth && ./read_bandwidth 2
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    const size_t n = size_t(1) << 30;
    const int threads = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1;
    auto* a = static_cast<char*>(std::aligned_alloc(64, n));
    std::memset(a, 1, n);
    std::vector<double> gbs;
    for (int rep = 0; rep < 5; ++rep) {
        std::vector<long long> sums(static_cast<size_t>(threads));
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                __m256i acc = _mm256_setzero_si256();
                for (size_t i = n / threads * t; i < n / threads * (t + 1); i += 32)
                    acc = _mm256_add_epi64(acc, _mm256_load_si256(reinterpret_cast<const __m256i*>(a + i)));
                long long lanes[4];
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes), acc);
                sums[size_t(t)] = lanes[0] + lanes[1] + lanes[2] + lanes[3];
            });
        }
        for (auto& th : pool) th.join();
        gbs.push_back(n / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 1e9);
    }
    std::sort(gbs.begin(), gbs.end());
    std::printf("read bandwidth, %d thread(s): %.1f GB/s (median of 5)\n", threads, gbs[2]);
    std::free(a);
}
