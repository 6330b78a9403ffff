// A CUDA emulator for checking the kernels' logic on machines without a GPU (development aid,
// not shipped): kernels run block by block, each CUDA thread a ucontext coroutine on one OS
// thread; __syncthreads and warp shuffles yield until all live threads of the block / warp have
// arrived. Device memory is host memory filled with 0xFF (NaN) when allocated, copies and
// launches are synchronous, graph capture reports "unsupported" (the backend then decodes
// eagerly), and cuBLAS GEMMs are plain double-precision loops. Slow: minutes for the op tests.
#include <ucontext.h>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>
#include "cuda_runtime.h"
#include "cublas_v2.h"
#include "inference/quant/fp16.h"

namespace emu {
dim3 g_blockIdx, g_blockDim, g_gridDim;
namespace {
struct Thr { ucontext_t ctx; dim3 tid; bool done = false; int warp = 0, lane = 0; };
ucontext_t sched;
std::vector<Thr> thr;
std::vector<std::vector<char>> stacks;
int cur = 0;
const std::function<void()>* body = nullptr;
struct Bar { int arrived = 0; unsigned gen = 0; };
Bar bbar;
std::vector<Bar> wbar;
std::vector<uint64_t> slots;
std::vector<char> smem_buf;
void yield() { swapcontext(&thr[cur].ctx, &sched); }
void entry() {
    (*body)();
    thr[cur].done = true;
}
int live_block() { int n = 0; for (auto& t : thr) n += !t.done; return n; }
int live_warp(int w) { int n = 0; for (auto& t : thr) n += (!t.done && t.warp == w); return n; }
template <typename F> void barrier(Bar& b, F live) {
    const unsigned g = b.gen;
    ++b.arrived;
    while (b.gen == g) {
        if (b.arrived >= live()) { b.arrived = 0; ++b.gen; break; }
        yield();
    }
}
}  // namespace
dim3 cur_tid() { return thr[cur].tid; }
void syncthreads() { barrier(bbar, [] { return live_block(); }); }
uint64_t shfl_bits(uint64_t v, int o) {
    const int w = thr[cur].warp, l = thr[cur].lane;
    slots[size_t(w) * 32 + l] = v;
    barrier(wbar[size_t(w)], [w] { return live_warp(w); });
    const uint64_t r = slots[size_t(w) * 32 + size_t(l ^ o)];
    barrier(wbar[size_t(w)], [w] { return live_warp(w); });
    return r;
}
void* dyn_smem() { return smem_buf.data(); }
void launch(dim3 grid, dim3 block, size_t smem, const std::function<void()>& f) {
    const int n = int(block.x * block.y * block.z);
    if (n <= 0 || n > 1024) { std::fprintf(stderr, "emu: bad block size %d\n", n); std::abort(); }
    smem_buf.assign(smem + 16, 0);
    g_gridDim = grid;
    g_blockDim = block;
    body = &f;
    if (stacks.size() < size_t(n)) stacks.resize(size_t(n), std::vector<char>(size_t(256) << 10));
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                g_blockIdx = dim3(bx, by, bz);
                thr.assign(size_t(n), Thr{});
                wbar.assign(size_t((n + 31) / 32), Bar{});
                slots.assign(size_t((n + 31) / 32) * 32, 0);
                bbar = Bar{};
                for (int i = 0; i < n; ++i) {
                    Thr& t = thr[size_t(i)];
                    t.tid = dim3(unsigned(i) % block.x, (unsigned(i) / block.x) % block.y, unsigned(i) / (block.x * block.y));
                    t.warp = i / 32;
                    t.lane = i % 32;
                    getcontext(&t.ctx);
                    t.ctx.uc_stack.ss_sp = stacks[size_t(i)].data();
                    t.ctx.uc_stack.ss_size = stacks[size_t(i)].size();
                    t.ctx.uc_link = &sched;
                    makecontext(&t.ctx, entry, 0);
                }
                int remaining = n;
                while (remaining > 0)
                    for (int i = 0; i < n; ++i) {
                        if (thr[size_t(i)].done) continue;
                        cur = i;
                        swapcontext(&sched, &thr[size_t(i)].ctx);
                        if (thr[size_t(i)].done) --remaining;
                    }
            }
}
}  // namespace emu

static size_t g_allocated = 0;
static std::map<void*, size_t> g_sizes;
static const size_t kTotal = size_t(16) << 30;
cudaError_t cudaMalloc(void** p, size_t n) {
    if (g_allocated + n > kTotal) return cudaErrorMemoryAllocation;
    *p = std::aligned_alloc(256, (n + 255) & ~size_t(255));
    // Garbage, like real device memory: NaN bit patterns catch reads of unwritten data.
    std::memset(*p, 0xFF, n);
    g_sizes[*p] = n;
    g_allocated += n;
    return cudaSuccess;
}
cudaError_t cudaFree(void* p) { if (p) { g_allocated -= g_sizes[p]; g_sizes.erase(p); std::free(p); } return cudaSuccess; }
cudaError_t cudaMallocHost(void** p, size_t n) { *p = std::aligned_alloc(256, (n + 255) & ~size_t(255)); return cudaSuccess; }
cudaError_t cudaFreeHost(void* p) { std::free(p); return cudaSuccess; }
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) { std::memcpy(d, s, n); return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t) { std::memcpy(d, s, n); return cudaSuccess; }
cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t) { std::memset(d, v, n); return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { *s = reinterpret_cast<cudaStream_t>(new int(1)); return cudaSuccess; }
cudaError_t cudaStreamDestroy(cudaStream_t s) { delete reinterpret_cast<int*>(s); return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaGetLastError() { return cudaSuccess; }
const char* cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "emulated error"; }
cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
    std::memset(p, 0, sizeof *p);
    std::strcpy(p->name, "Emulated GPU");
    p->totalGlobalMem = kTotal;
    p->multiProcessorCount = 4;
    p->major = 9;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t* f, size_t* t) { *f = kTotal - g_allocated; *t = kTotal; return cudaSuccess; }
cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) { return cudaErrorStreamCaptureUnsupported; }
cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t* g) { *g = reinterpret_cast<cudaGraph_t>(new int(1)); return cudaSuccess; }
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t, unsigned long long) { *e = reinterpret_cast<cudaGraphExec_t>(new int(1)); return cudaSuccess; }
cudaError_t cudaGraphLaunch(cudaGraphExec_t, cudaStream_t) { return cudaErrorStreamCaptureUnsupported; }
cudaError_t cudaGraphDestroy(cudaGraph_t g) { delete reinterpret_cast<int*>(g); return cudaSuccess; }
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) { delete reinterpret_cast<int*>(e); return cudaSuccess; }

cublasStatus_t cublasCreate(cublasHandle_t* h) { *h = reinterpret_cast<cublasHandle_t>(new int(1)); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy(cublasHandle_t h) { delete reinterpret_cast<int*>(h); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
const char* cublasGetStatusString(cublasStatus_t) { return "emulated cublas error"; }
template <typename GetA, typename GetB>
static void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, GetA A, int lda, GetB B,
                 int ldb, float beta, float* C, int ldc) {
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
            double s = 0;
            for (int p = 0; p < k; ++p) {
                const float a = ta == CUBLAS_OP_T ? A(p + size_t(i) * lda) : A(i + size_t(p) * lda);
                const float b = tb == CUBLAS_OP_T ? B(j + size_t(p) * ldb) : B(p + size_t(j) * ldb);
                s += double(a) * b;
            }
            float& c = C[i + size_t(j) * ldc];
            c = float(alpha * s + (beta != 0 ? beta * c : 0.0f));
        }
}
cublasStatus_t cublasSgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
    gemm(ta, tb, m, n, k, *alpha, [A](size_t i) { return A[i]; }, lda, [B](size_t i) { return B[i]; }, ldb, *beta, C, ldc);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void* alpha, const void* A, cudaDataType at, int lda, const void* B, cudaDataType bt,
                            int ldb, const void* beta, void* C, cudaDataType ct, int ldc, cublasComputeType_t,
                            cublasGemmAlgo_t) {
    if (at != CUDA_R_16F || bt != CUDA_R_16F || ct != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    const uint16_t* a = static_cast<const uint16_t*>(A);
    const uint16_t* b = static_cast<const uint16_t*>(B);
    gemm(ta, tb, m, n, k, *static_cast<const float*>(alpha), [a](size_t i) { return ld::fp16_to_fp32(a[i]); }, lda,
         [b](size_t i) { return ld::fp16_to_fp32(b[i]); }, ldb, *static_cast<const float*>(beta), static_cast<float*>(C), ldc);
    return CUBLAS_STATUS_SUCCESS;
}
