// The one-op test interface (cuda_api.h's OpsForTest) of the CUDA tests, and its entry point
// ld_cuda_ops_for_test. Built only into the test plugin, libllamadesk_cuda_test.so (the shipped
// plugin's objects plus this file; tests/cuda/CMakeLists.txt), and into the emulated plugin of
// tests/cuda/emu, never into the packaged libllamadesk_cuda.so. Nothing here lets an exception
// escape: failures come back as a null result and a reason.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "inference/core/error.h"
#include "inference/cuda/cuda_api.h"
#include "inference/cuda/cuda_backend.h"
#include "inference/cuda/cuda_check.h"
#include "inference/cuda/device_buffer.h"
#include "inference/cuda/kernels.h"
#include "inference/cuda/matmul.h"
#include "inference/quant/fp16.h"

#define LD_EXPORT extern "C" __attribute__((visibility("default")))

namespace ld::cuda {

namespace {

// Copies go through the test stream: it does not synchronize with the legacy default stream,
// and a plain cudaMemcpy from pageable memory may return before its DMA lands.
template <typename T>
DeviceBuffer upload(const T* data, size_t n, cudaStream_t s) {
    DeviceBuffer b(std::max<size_t>(1, n * sizeof(T)), "test input");
    if (n) LD_CUDA(cudaMemcpyAsync(b.as(), data, n * sizeof(T), cudaMemcpyHostToDevice, s));
    LD_CUDA(cudaStreamSynchronize(s));
    return b;
}

template <typename T>
std::vector<T> download(const DeviceBuffer& b, size_t n, cudaStream_t s) {
    LD_CUDA(cudaStreamSynchronize(s));  // kernel faults surface here, named by the check
    std::vector<T> out(n);
    if (n) LD_CUDA(cudaMemcpyAsync(out.data(), b.as(), n * sizeof(T), cudaMemcpyDeviceToHost, s));
    LD_CUDA(cudaStreamSynchronize(s));
    return out;
}

// Appends values first .. first + n of the f16 K cache, then the same of the V cache, as floats
// (the test ops' outputs end with the cache rows they wrote).
void append_cache_rows(std::vector<float>& out, const DeviceBuffer& kc, const DeviceBuffer& vc, size_t first, size_t n,
                       cudaStream_t s) {
    for (const DeviceBuffer* c : {&kc, &vc}) {
        const std::vector<uint16_t> h = download<uint16_t>(*c, first + n, s);
        for (size_t i = 0; i < n; ++i) out.push_back(fp16_to_fp32(h[first + i]));
    }
}

// Weights as the backend holds them (kernels.h device layouts).
struct TestWeightOnDevice {
    DeviceBuffer buf;
    DevWeight w;
};
TestWeightOnDevice upload_weight(GgmlType t, int64_t ne0, int64_t rows, const void* data, cudaStream_t s) {
    const size_t rb = row_size(t, ne0);
    std::vector<uint8_t> dev(rb * size_t(rows));
    to_device_layout(t, ne0, rows, static_cast<const uint8_t*>(data), dev.data());
    TestWeightOnDevice o{upload(dev.data(), dev.size(), s), {}};
    o.w = DevWeight{device_type(t, ne0), ne0, rows, rb, o.buf.as<uint8_t>()};
    return o;
}

// The decode path's int8 activation, as the backend makes it (for the types that use it).
struct TestQ8 {
    DeviceBuffer q, ds;
    Q8Act act;
    bool on = false;
};
void quantize_for_test(GgmlType dev_type, const float* x, int64_t ne0, TestQ8* out, cudaStream_t s) {
    if (!has_q8_dot(dev_type) || ne0 % 32 != 0) return;
    out->q = DeviceBuffer(size_t(ne0), "test int8 activations");
    out->ds = DeviceBuffer(16 * size_t(ne0 / 32), "test int8 scales");
    out->act = Q8Act{out->q.as<int8_t>(), out->ds.as<float4>()};
    launch_quantize_q8(x, int(ne0), out->act, s);
    out->on = true;
}

class TestOps final : public OpsForTest {
    template <typename T>
    DeviceBuffer up(const std::vector<T>& v) { return upload(v.data(), v.size(), stream_); }
    template <typename T>
    DeviceBuffer up(const T* p, size_t n) { return upload(p, n, stream_); }

public:
    explicit TestOps(const Tuning& tuning)
        : mv_split_(tuning.cuda_mv_split), small_batch_(tuning.cuda_small_batch), mv_variant_(tuning.cuda_mv_variant) {
        dev_ = pick_device("");
        LD_CUDA(cudaSetDevice(dev_));
        LD_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    }
    ~TestOps() override {
        cudaSetDevice(dev_);
        if (stream_) cudaStreamDestroy(stream_);
    }

    std::string device_name() override {
        cudaDeviceProp prop{};
        LD_CUDA(cudaGetDeviceProperties(&prop, dev_));
        return prop.name;
    }

    MemoryInfo memory() override {
        LD_CUDA(cudaSetDevice(dev_));
        size_t f = 0, t = 0;
        LD_CUDA(cudaMemGetInfo(&f, &t));
        return {f, t};
    }

    std::vector<float> matmul(GgmlType t, int64_t ne0, int64_t rows, const void* w, const std::vector<float>& x, int B,
                              bool accumulate, const std::vector<float>& y0) override {
        LD_CUDA(cudaSetDevice(dev_));
        const TestWeightOnDevice dw = upload_weight(t, ne0, rows, w, stream_);
        DeviceBuffer dx = up(x);
        std::vector<float> init = accumulate ? y0 : std::vector<float>(size_t(B) * size_t(rows), 0.0f);
        DeviceBuffer dy = up(init);
        TestQ8 q8;
        if (B == 1) quantize_for_test(dw.w.type, dx.as<float>(), ne0, &q8, stream_);
        {
            Matmul mm(stream_, ne0, std::max(B, 2), rows, ne0 * 64, mv_split_, small_batch_, mv_variant_);  // tiles of 64 rows
            mm.run(dw.w, dx.as<float>(), B, dy.as<float>(), accumulate, q8.on ? &q8.act : nullptr);
            LD_CUDA(cudaStreamSynchronize(stream_));
        }
        return download<float>(dy, size_t(B) * size_t(rows), stream_);
    }

    std::vector<float> matvec_swiglu(GgmlType t, int64_t ne0, int64_t rows, const void* wg, const void* wu,
                                     const std::vector<float>& x) override {
        LD_CUDA(cudaSetDevice(dev_));
        const TestWeightOnDevice g = upload_weight(t, ne0, rows, wg, stream_);
        const TestWeightOnDevice u = upload_weight(t, ne0, rows, wu, stream_);
        if (ne0 <= 0 || x.empty() || x.size() % size_t(ne0) != 0) fail("gate/up test: x is not whole rows of ", ne0);
        const int B = int(x.size() / size_t(ne0));
        DeviceBuffer dx = up(x);
        DeviceBuffer dy(4 * size_t(B) * size_t(rows), "test output"), scratch(4 * size_t(B) * size_t(rows), "test scratch");
        TestQ8 q8;
        if (B == 1) quantize_for_test(g.w.type, dx.as<float>(), ne0, &q8, stream_);
        Matmul mm(stream_, ne0, B, rows, 0, mv_split_, small_batch_, mv_variant_);
        mm.gate_up(g.w, u.w, dx.as<float>(), B, dy.as<float>(), scratch.as<float>(), q8.on ? &q8.act : nullptr);
        return download<float>(dy, size_t(B) * size_t(rows), stream_);
    }

    std::vector<float> get_rows(GgmlType t, int64_t ne0, int64_t n_rows, const void* w,
                                const std::vector<int32_t>& ids) override {
        LD_CUDA(cudaSetDevice(dev_));
        const TestWeightOnDevice dw = upload_weight(t, ne0, n_rows, w, stream_);
        DeviceBuffer di = up(ids);
        DeviceBuffer dy(4 * ids.size() * size_t(ne0), "test output");
        launch_dequant(dw.w.type, dw.w.data, dw.w.row_bytes, int(ne0), di.as<int32_t>(), 0, int(ids.size()), dy.as(),
                       false, stream_);
        return download<float>(dy, ids.size() * size_t(ne0), stream_);
    }

    std::vector<float> rmsnorm(const std::vector<float>& x, const std::vector<float>& w, int n, float eps) override {
        LD_CUDA(cudaSetDevice(dev_));
        DeviceBuffer dx = up(x), dw = up(w), dy(4 * x.size(), "test output");
        launch_rmsnorm(dx.as<float>(), dw.as<float>(), dy.as<float>(), n, int(x.size() / size_t(n)), eps, stream_);
        return download<float>(dy, x.size(), stream_);
    }

    std::vector<float> rmsnorm_q8(const std::vector<float>& x, const std::vector<float>& w, int n, float eps) override {
        LD_CUDA(cudaSetDevice(dev_));
        if (n % 32 != 0 || x.size() != size_t(n) || w.size() != size_t(n)) fail("rmsnorm_q8 test: one row of 32k");
        DeviceBuffer dx = up(x), dw = up(w), dy(4 * x.size(), "test output");
        DeviceBuffer q(size_t(n), "test int8"), ds(16 * size_t(n / 32), "test scales");
        const Q8Act act{q.as<int8_t>(), ds.as<float4>()};
        launch_rmsnorm_q8(dx.as<float>(), dw.as<float>(), dy.as<float>(), act, n, eps, stream_);
        std::vector<float> out = download<float>(dy, size_t(n), stream_);
        const std::vector<int8_t> hq = download<int8_t>(q, size_t(n), stream_);
        const std::vector<float> hds = download<float>(ds, 4 * size_t(n / 32), stream_);
        for (int i = 0; i < n; ++i) out.push_back(hds[4 * size_t(i / 32)] * float(hq[size_t(i)]));
        for (int g = 0; g < n / 32; ++g)
            for (int k = 0; k < 3; ++k) out.push_back(hds[4 * size_t(g) + size_t(k)]);
        return out;
    }

    std::vector<float> swiglu(const std::vector<float>& g, const std::vector<float>& u) override {
        LD_CUDA(cudaSetDevice(dev_));
        DeviceBuffer dg = up(g), du = up(u);
        launch_swiglu(dg.as<float>(), du.as<float>(), g.size(), stream_);
        return download<float>(dg, g.size(), stream_);
    }

    std::vector<float> qkv_rope(GgmlType t, int64_t ne0, const void* wq, const void* wk, const void* wv,
                                const std::vector<float>& x, int n_heads, int n_kv, int head_dim, int rope_dim,
                                const std::vector<float>& inv_freq, int pos) override {
        LD_CUDA(cudaSetDevice(dev_));
        const int64_t qd = int64_t(n_heads) * head_dim, kvd = int64_t(n_kv) * head_dim;
        const TestWeightOnDevice q = upload_weight(t, ne0, qd, wq, stream_);
        const TestWeightOnDevice k = upload_weight(t, ne0, kvd, wk, stream_);
        const TestWeightOnDevice v = upload_weight(t, ne0, kvd, wv, stream_);
        DeviceBuffer dx = up(x), df = up(inv_freq);
        TestQ8 q8;
        quantize_for_test(q.w.type, dx.as<float>(), ne0, &q8, stream_);
        if (!q8.on) fail("qkv_rope test: ", type_name(t), " rows of ", ne0, " do not use int8 activations");
        const size_t rows = size_t(pos) + 1;
        DeviceBuffer dq(4 * size_t(qd), "test q"), kc(2 * rows * size_t(kvd), "test cache"), vc(2 * rows * size_t(kvd), "test cache");
        const int32_t p = pos;
        DeviceBuffer dp = up(&p, 1);
        MvRope rope;
        rope.d_pos = dp.as<int32_t>();
        rope.inv_freq = df.as<float>();
        rope.k_cache = kc.as<uint16_t>();
        rope.v_cache = vc.as<uint16_t>();
        rope.hd = head_dim;
        rope.rope_dim = rope_dim;
        const DevWeight* ws[] = {&q.w, &k.w, &v.w};
        float* ys[] = {dq.as<float>(), nullptr, nullptr};
        Matmul mm(stream_, ne0, 1, qd, 0, mv_split_, 0, mv_variant_);
        if (!mm.qkv_rope(ws, ys, dx.as<float>(), &q8.act, rope)) fail("qkv_rope test: not applicable");
        std::vector<float> out = download<float>(dq, size_t(qd), stream_);
        append_cache_rows(out, kc, vc, size_t(pos) * size_t(kvd), size_t(kvd), stream_);
        return out;
    }

    std::vector<float> rope_store(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                  int B, int n_heads, int n_kv, int head_dim, int rope_dim,
                                  const std::vector<float>& inv_freq, int pos) override {
        LD_CUDA(cudaSetDevice(dev_));
        const size_t kvd = size_t(n_kv) * size_t(head_dim);
        const size_t rows = size_t(pos + B);
        DeviceBuffer dq = up(q), dk = up(k), dv = up(v), df = up(inv_freq);
        DeviceBuffer kc(2 * rows * kvd, "test cache"), vc(2 * rows * kvd, "test cache");
        const int32_t p = pos;
        DeviceBuffer dp = up(&p, 1);
        launch_rope_store(dq.as<float>(), dk.as<float>(), dv.as<float>(), kc.as<uint16_t>(), vc.as<uint16_t>(),
                          dp.as<int32_t>(), B, n_heads, n_kv, head_dim, rope_dim, df.as<float>(), stream_);
        std::vector<float> out = download<float>(dq, q.size(), stream_);
        append_cache_rows(out, kc, vc, size_t(pos) * kvd, size_t(B) * kvd, stream_);
        return out;
    }

    std::vector<float> attention(const std::vector<float>& q, const std::vector<uint16_t>& k_cache,
                                 const std::vector<uint16_t>& v_cache, int B, int n_heads, int n_kv, int head_dim,
                                 int pos, int n_ctx) override {
        LD_CUDA(cudaSetDevice(dev_));
        const size_t kvd = size_t(n_kv) * size_t(head_dim);
        if (k_cache.size() < size_t(pos + B) * kvd || v_cache.size() < size_t(pos + B) * kvd || pos + B > n_ctx)
            fail("attention test: the cache holds fewer than pos + B rows");
        DeviceBuffer dq = up(q);
        DeviceBuffer kc(2 * size_t(n_ctx) * kvd, "test cache"), vc(2 * size_t(n_ctx) * kvd, "test cache");
        LD_CUDA(cudaMemcpyAsync(kc.as(), k_cache.data(), 2 * size_t(pos + B) * kvd, cudaMemcpyHostToDevice, stream_));
        LD_CUDA(cudaMemcpyAsync(vc.as(), v_cache.data(), 2 * size_t(pos + B) * kvd, cudaMemcpyHostToDevice, stream_));
        LD_CUDA(cudaStreamSynchronize(stream_));
        const int32_t p = pos;
        DeviceBuffer dp = up(&p, 1);
        const int chunk = attention_chunk(n_ctx);
        const int n_chunks = (pos + B + chunk - 1) / chunk;
        const int slice = 64;
        DeviceBuffer part(4 * size_t(std::min(B, slice)) * n_heads * n_chunks * size_t(head_dim + 2), "test partials");
        DeviceBuffer dout(4 * size_t(B) * n_heads * head_dim, "test output");
        AttnArgs a;
        a.q = dq.as<float>();
        a.k = kc.as<uint16_t>();
        a.v = vc.as<uint16_t>();
        a.out = dout.as<float>();
        a.part = part.as<float>();
        a.d_pos = dp.as<int32_t>();
        a.n_heads = n_heads;
        a.n_kv = n_kv;
        a.hd = head_dim;
        a.chunk = chunk;
        a.n_chunks = n_chunks;
        a.scale = 1.0f / std::sqrt(float(head_dim));
        for (int t0 = 0; t0 < B; t0 += slice) {
            a.t0 = t0;
            a.n_tok = std::min(slice, B - t0);
            launch_attention(a, stream_);
        }
        return download<float>(dout, size_t(B) * n_heads * head_dim, stream_);
    }

    std::vector<float> attention_paged(const std::vector<float>& q, const std::vector<uint16_t>& k_cache,
                                       const std::vector<uint16_t>& v_cache, const std::vector<int32_t>& positions,
                                       const std::vector<int32_t>& table_off, const std::vector<int32_t>& tables,
                                       const std::vector<int32_t>& rows, int n_heads, int n_kv, int head_dim,
                                       int chunk) override {
        LD_CUDA(cudaSetDevice(dev_));
        constexpr int kBlock = 64;
        const size_t n = positions.size(), kvd = size_t(n_kv) * size_t(head_dim);
        if (table_off.size() != n || q.size() != n * size_t(n_heads) * size_t(head_dim) || rows.empty())
            fail("paged attention test: ", n, " positions, ", table_off.size(), " table offsets, ", q.size(), " q values");
        const size_t n_slots = k_cache.size() / kvd;
        if (k_cache.size() != v_cache.size() || n_slots % kBlock != 0) fail("paged attention test: caches of whole blocks");
        int longest = 0;
        for (int32_t r : rows) {
            if (r < 0 || size_t(r) >= n) fail("paged attention test: row ", r);
            const int32_t p = positions[size_t(r)];
            for (int b = 0; b <= p / kBlock; ++b) {  // the kernel trusts its tables, as in the backend
                const size_t i = size_t(table_off[size_t(r)]) + size_t(b);
                if (p < 0 || i >= tables.size() || tables[i] < 0 || size_t(tables[i]) >= n_slots / kBlock)
                    fail("paged attention test: row ", r, "'s block table");
            }
            longest = std::max(longest, p + 1);
        }
        DeviceBuffer dq = up(q), kc = up(k_cache), vc = up(v_cache), dpos = up(positions), doff = up(table_off),
                     dtab = up(tables), drows = up(rows);
        const size_t out_n = q.size();
        DeviceBuffer dout(4 * out_n, "test output");
        LD_CUDA(cudaMemsetAsync(dout.as(), 0, 4 * out_n, stream_));
        PagedAttnArgs a;
        a.q = dq.as<float>();
        a.k = kc.as<uint16_t>();
        a.v = vc.as<uint16_t>();
        a.out = dout.as<float>();
        a.positions = dpos.as<int32_t>();
        a.table_off = doff.as<int32_t>();
        a.tables = dtab.as<int32_t>();
        a.rows = drows.as<int32_t>();
        a.block = kBlock;
        a.n_tok = int(rows.size());
        a.n_heads = n_heads;
        a.n_kv = n_kv;
        a.hd = head_dim;
        a.scale = 1.0f / std::sqrt(float(head_dim));
        DeviceBuffer part;
        if (chunk > 0) {
            a.chunk = chunk;
            a.n_chunks = (longest + chunk - 1) / chunk;
            part = DeviceBuffer(4 * size_t(a.n_tok) * n_heads * a.n_chunks * size_t(head_dim + 2), "test partials");
            a.part = part.as<float>();
        }
        launch_attention_paged(a, stream_);
        return download<float>(dout, out_n, stream_);
    }

    std::vector<float> fused_chain(GgmlType t, int64_t dim, int64_t ffn, int64_t n_out, const void* wo, const void* wg,
                                   const void* wu, const void* wd, const void* wout, const std::vector<float>& x0,
                                   const std::vector<float>& att, const std::vector<float>& w1,
                                   const std::vector<float>& w2, float eps) override {
        LD_CUDA(cudaSetDevice(dev_));
        if (x0.size() != size_t(dim) || att.size() != size_t(dim) || w1.size() != size_t(dim) || w2.size() != size_t(dim))
            fail("fused_chain test: x0, att, w1 and w2 have ", dim, " values");
        const TestWeightOnDevice o = upload_weight(t, dim, dim, wo, stream_), g = upload_weight(t, dim, ffn, wg, stream_),
                                 u = upload_weight(t, dim, ffn, wu, stream_), d = upload_weight(t, ffn, dim, wd, stream_),
                                 out = upload_weight(t, dim, n_out, wout, stream_);
        DeviceBuffer dx = up(x0), da = up(att), dw1 = up(w1), dw2 = up(w2);
        DeviceBuffer dg(4 * size_t(ffn), "test g"), du(4 * size_t(ffn), "test u"), dy(4 * size_t(n_out), "test y");
        // Two int8 buffers as in the backend: A for att and g, B for the folded norms' outputs.
        const int64_t wide = std::max(dim, ffn);
        DeviceBuffer qa(size_t(wide), "test int8"), sa(16 * size_t(wide / 32 + 1), "test scales"),
            qb(size_t(wide), "test int8"), sb(16 * size_t(wide / 32 + 1), "test scales"),
            counts(4 * size_t(wide / 32 + 1), "test counters"), ss(16, "test sums");
        LD_CUDA(cudaMemsetAsync(counts.as(), 0, counts.bytes(), stream_));
        LD_CUDA(cudaMemsetAsync(ss.as(), 0, ss.bytes(), stream_));
        const Q8Act A{qa.as<int8_t>(), sa.as<float4>()}, Bq{qb.as<int8_t>(), sb.as<float4>()};
        double* sums = ss.as<double>();
        Matmul mm(stream_, wide, 1, std::max({dim, ffn, n_out}), 0, mv_split_, 0, mv_variant_);
        if (!has_q8_dot(o.w.type) || dim % 32 != 0) fail("fused_chain test: ", type_name(t), " rows of ", dim, " do not use int8 activations");
        launch_quantize_q8(da.as<float>(), int(dim), A, stream_);
        MvFuse wo_out;
        wo_out.out_q = Bq;
        wo_out.out_norm = dw1.as<float>();
        wo_out.out_ss = sums;
        wo_out.group_count = counts.as<int>();
        mm.run(o.w, da.as<float>(), 1, dx.as<float>(), true, &A, &wo_out);
        const std::vector<float> x1 = download<float>(dx, size_t(dim), stream_);
        MvFuse gu;
        gu.in_ss = sums;
        gu.in_eps = eps;
        gu.out_q = A;
        gu.group_count = counts.as<int>();
        mm.gate_up(g.w, u.w, nullptr, 1, dg.as<float>(), du.as<float>(), &Bq, &gu);
        MvFuse down_out = wo_out;
        down_out.out_norm = dw2.as<float>();
        down_out.out_ss = sums + 1;
        mm.run(d.w, dg.as<float>(), 1, dx.as<float>(), true, &A, &down_out);
        MvFuse out_in;
        out_in.in_ss = sums + 1;
        out_in.in_eps = eps;
        mm.run(out.w, nullptr, 1, dy.as<float>(), false, &Bq, &out_in);
        std::vector<float> r = x1;
        for (const std::vector<float>& part : {download<float>(dg, size_t(ffn), stream_), download<float>(dx, size_t(dim), stream_),
                                               download<float>(dy, size_t(n_out), stream_)})
            r.insert(r.end(), part.begin(), part.end());
        return r;
    }

private:
    int mv_split_ = 0;
    int small_batch_ = 0;  // Tuning::cuda_small_batch
    int mv_variant_ = 0;  // Tuning::cuda_mv_variant
    int dev_ = 0;
    cudaStream_t stream_ = nullptr;
};

}  // namespace

}  // namespace ld::cuda


LD_EXPORT ld::cuda::OpsForTest* ld_cuda_ops_for_test(const ld::Tuning* tuning, std::string* why) {
    try {
        return new ld::cuda::TestOps(*tuning);
    } catch (const std::exception& e) {
        *why = e.what();
    }
    return nullptr;
}

