// Device-to-device copy bandwidth: the ceiling for decode, which streams every weight once per
// token. Copies 1 GiB several times between two buffers, timed with events, and prints GB/s
// counting bytes read plus bytes written (as memory bandwidth figures do).
//   cuda_copy_bw [device]
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#define CHECK(call)                                                                       \
    do {                                                                                  \
        cudaError_t e_ = (call);                                                          \
        if (e_ != cudaSuccess) {                                                          \
            std::fprintf(stderr, "%s failed: %s\n", #call, cudaGetErrorString(e_));       \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

int main(int argc, char** argv) {
    const int dev = argc > 1 ? std::atoi(argv[1]) : 0;
    CHECK(cudaSetDevice(dev));
    cudaDeviceProp prop{};
    CHECK(cudaGetDeviceProperties(&prop, dev));
    const size_t bytes = size_t(1) << 30;
    void *a = nullptr, *b = nullptr;
    CHECK(cudaMalloc(&a, bytes));
    CHECK(cudaMalloc(&b, bytes));
    CHECK(cudaMemset(a, 1, bytes));
    CHECK(cudaMemset(b, 2, bytes));
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    CHECK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));  // warm-up
    const int reps = 20;
    CHECK(cudaEventRecord(e0));
    for (int i = 0; i < reps; ++i) CHECK(cudaMemcpyAsync(i % 2 ? a : b, i % 2 ? b : a, bytes, cudaMemcpyDeviceToDevice));
    CHECK(cudaEventRecord(e1));
    CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, e0, e1));
    const double gbps = 2.0 * double(bytes) * reps / (ms / 1e3) / 1e9;
    std::printf("device %d: %s, %d SMs, %.1f GiB\n", dev, prop.name, prop.multiProcessorCount,
                double(prop.totalGlobalMem) / (1 << 30));
    std::printf("copied %d x 1 GiB in %.2f ms\n", reps, ms);
    std::printf("copy bandwidth (read + write): %.1f GB/s\n", gbps);
    cudaFree(a);
    cudaFree(b);
    return 0;
}
