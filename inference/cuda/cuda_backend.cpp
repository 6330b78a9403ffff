// The CUDA forward pass: weights uploaded once in their GGUF layout, an f16 KV cache, and per
// batch the same steps as the CPU backend (inference/cpu/cpu_backend.cpp) on one stream with no
// host synchronization until the logits come back. The decode step (one token) is captured
// once as a CUDA graph and replayed: every kernel reads the position and token id from device
// memory, and only those few bytes are copied in before each replay.
// A paged step (Backend::forward(SeqBatch): many sequences, each in its own blocks of the cache)
// runs the same layers with three kernels swapped for paged ones (RoPE + KV store to each
// token's cache slot, attention through each row's block table, the gather of the logit rows);
// its positions, slots and block tables are copied in per step. The one-sequence call keeps
// the contiguous kernels and the decode graph.
#include "inference/cuda/cuda_backend.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "inference/backend/memory_plan.h"
#include "inference/core/error.h"
#include "inference/cuda/cuda_check.h"
#include "inference/cuda/decode_fusion.h"
#include "inference/cuda/device_buffer.h"
#include "inference/cuda/kernels.h"
#include "inference/cuda/matmul.h"
#include "inference/model/llama.h"

namespace ld::cuda {

namespace {

constexpr size_t kAlign = 256;
constexpr int kAttnSlice = 64;  // prompt tokens per attention launch (bounds the partials buffer)
// Positions per KV block of the paged cache: the attention kernels' tile, and small enough that
// a short sequence wastes little (a 4k-position sequence is 64 blocks).
constexpr int kKvBlock = 64;
static_assert(kKvBlock == 64, "a prompt chunk's attention tiles (64 positions, attention.cu) are whole KV blocks");

size_t align_up(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Destroyed last among the backend's members, and also when the constructor throws.
struct StreamHolder {
    cudaStream_t s = nullptr;
    ~StreamHolder() {
        if (s) cudaStreamDestroy(s);
    }
};

// Rows [r0, r0 + len) of a paged step: one sequence's consecutive positions from first_pos (a
// prompt chunk), whose attention runs the tiled kernels of the one-sequence path.
struct PagedChunk {
    int r0 = 0, len = 0, first_pos = 0;
    int table_off = 0;  // its block table in PagedStep::tables
};

// A paged step's per-token arrays on the device (see CudaBackend::upload_paged).
struct PagedStep {
    const int32_t* positions = nullptr;  // (B)
    const int32_t* slots = nullptr;      // (B) cache row of each token
    const int32_t* table_off = nullptr;  // (B) where its sequence's table starts in tables
    const int32_t* logit_rows = nullptr; // (out_rows) batch rows whose logits are wanted
    const int32_t* single_rows = nullptr;// (n_single) rows outside chunks (attn_paged_kernel)
    const int32_t* chunk_pos = nullptr;  // per chunk: first_pos - r0 (AttnArgs::d_pos: row t is at it + t)
    const int32_t* tables = nullptr;
    int n_single = 0;
    int single_longest = 0;              // positions the longest single row sees (its position + 1)
    std::vector<PagedChunk> chunks;      // on the host
};

struct DevLayer {
    const float* attn_norm = nullptr;
    const float* ffn_norm = nullptr;
    DevWeight wq, wk, wv, wo, w_gate, w_up, w_down;
};

class CudaBackend final : public Backend {
public:
    CudaBackend(const Model& model, const BackendOptions& o);
    ~CudaBackend() override;
    std::string name() const override { return "cuda (" + device_name_ + ")"; }
    int context_size() const override { return n_ctx_; }
    int vocab_size() const override { return p_.n_vocab; }
    int batch_size() const override { return n_batch_; }
    int device() const { return dev_; }
    bool supports_sequences() const override { return true; }
    int kv_block_size() const override { return kKvBlock; }
    int kv_blocks() const override { return kv_slots_ / kKvBlock; }
    void copy_kv_block(int src, int dst) override;

private:
    void forward_batch(const BatchView& batch) override;
    // Copies a paged step's positions, slots, block tables and logit rows to the device.
    PagedStep upload_paged(const BatchView& batch);
    void validate(const Model& m) const;
    void upload_weights(const Model& m, const LoadProgress& progress);
    // Enqueues one batch: B tokens, attention over n_chunks chunks, logits for rows
    // [out_first, out_first + out_rows) of the batch (none when out_rows == 0). With paged set,
    // a paged step instead (n_chunks and out_first unused, the rows in paged->logit_rows).
    void enqueue(int B, int n_chunks, int out_first, int out_rows, const PagedStep* paged = nullptr);
    // Attention arguments of this layer's caches with everything but the rows (t0, n_tok).
    AttnArgs attn_args(const uint16_t* kc, const uint16_t* vc, const int32_t* d_pos, int n_chunks) const;
    // A paged step's attention into att_ (q_ rotated, this layer's K and V stored).
    void attend_paged(const PagedStep& paged, const uint16_t* kc, const uint16_t* vc);
    void capture_decode_graph();
    void destroy_graph();

    LlamaParams p_;
    int dev_ = 0;
    std::string device_name_;
    int n_ctx_, n_batch_;
    int kv_slots_;  // cache rows per layer: whole blocks, at least n_ctx_ (BackendOptions::kv_positions)
    int attn_chunk_, attn_chunks_max_;
    StreamHolder stream_holder_;
    cudaStream_t stream_ = nullptr;
    // Decode replays a CUDA graph (366 against 356 tok/s eager, 8B Q4_K_M on the H200); false
    // after a failed capture or with Tuning::cuda_graph off (profiling single kernels).
    bool use_graph_ = true;
    int mv_split_ = 0;  // Tuning::cuda_mv_split
    int paged_chunk_ = 0;  // Tuning::cuda_paged_chunk
    int sm_count_ = 1;
    cudaGraph_t graph_ = nullptr;
    cudaGraphExec_t graph_exec_ = nullptr;

    DeviceBuffer weights_;  // every weight, each 256-byte aligned
    DevWeight tok_embd_, output_;
    const float* output_norm_ = nullptr;
    std::vector<DevLayer> layers_;

    DeviceBuffer k_cache_, v_cache_;  // (n_layers, kv_slots, kv_dim) f16
    DeviceBuffer inv_freq_;           // (rope_dim / 2)
    DeviceBuffer meta_;               // int32: [0] = position of the batch's first token, [1..B] = token ids
    PinnedBuffer meta_host_;
    // A paged step's int32 arrays (PagedStep), grown to the largest step's.
    DeviceBuffer paged_;
    PinnedBuffer paged_host_;
    // Activations of one batch, row-major (B, width).
    DeviceBuffer x_, xn_, q_, k_, v_, att_, g_, u_, logits_, part_;
    DeviceBuffer xq_, xds_;  // one decode activation as int8, (max width) and (max width / 32) float4
    Q8Act q8_;
    // Tuning::cuda_fused_q8: where the matvecs quantize the next activation themselves. The
    // RMSNorms' int8 output then goes to a second buffer (q8n_), since a residual-add matvec
    // writes it while it still reads q8_; norm_ss_: the folded norms' sums of squares (2 per
    // layer + the output's, zeroed per step); group_count_: MvFuse's counters.
    DecodeFusion fusion_;
    DeviceBuffer xq2_, xds2_, norm_ss_, group_count_;
    Q8Act q8n_;
    std::unique_ptr<Matmul> mm_;
};

CudaBackend::CudaBackend(const Model& model, const BackendOptions& o)
    : p_(model.params),
      n_ctx_(std::max(1, std::min(o.n_ctx > 0 ? o.n_ctx : 8192, model.params.ctx_train > 0 ? model.params.ctx_train : 8192))),
      n_batch_(o.n_batch > 0 ? std::min(o.n_batch, 512) : 512),
      kv_slots_(0) {
    if (o.kv_type != GgmlType::F16)
        fail("the CUDA backend keeps its KV cache in F16, not ", type_name(o.kv_type));
    validate(model);
    dev_ = pick_device(o.device);
    LD_CUDA(cudaSetDevice(dev_));
    cudaDeviceProp prop{};
    LD_CUDA(cudaGetDeviceProperties(&prop, dev_));
    device_name_ = prop.name;
    mv_split_ = o.tuning.cuda_mv_split;
    paged_chunk_ = o.tuning.cuda_paged_chunk;
    sm_count_ = std::max(1, prop.multiProcessorCount);
    use_graph_ = o.tuning.cuda_graph;

    attn_chunk_ = attention_chunk(n_ctx_);
    attn_chunks_max_ = (n_ctx_ + attn_chunk_ - 1) / attn_chunk_;

    // Everything this backend allocates, checked against the free memory before any of it.
    std::map<const uint8_t*, size_t> seen;
    size_t weight_bytes = 0;
    auto count = [&](const Weight& w) {
        if (seen.emplace(w.data, 0).second) weight_bytes += align_up(w.nbytes);
    };
    count(model.tok_embd);
    count(model.output_norm);
    count(model.output);
    for (const LayerWeights& L : model.layers)
        for (const Weight* w : L.all())
            count(*w);
    const size_t B = size_t(n_batch_);
    {
        const int64_t want = std::max<int64_t>(n_ctx_, o.kv_positions);
        const int64_t slots = (want + kKvBlock - 1) / kKvBlock * kKvBlock;
        if (o.kv_positions < 0 || slots > (int64_t(1) << 30))
            fail("the CUDA backend cannot hold ", o.kv_positions, " KV positions (0 to ", int64_t(1) << 30, ")");
        kv_slots_ = int(slots);
    }
    const size_t kv_bytes = size_t(p_.n_layers) * size_t(kv_slots_) * size_t(p_.kv_dim()) * 2;
    const int64_t max_ne0 = std::max<int64_t>({p_.dim, p_.q_dim(), p_.ffn_dim});
    const int64_t max_rows = std::max<int64_t>({p_.n_vocab, p_.ffn_dim, p_.q_dim(), p_.dim});
    const size_t part_floats = size_t(std::min(n_batch_, kAttnSlice)) * p_.n_heads * attn_chunks_max_ * (p_.head_dim + 2);
    const size_t fuse_bytes = o.tuning.cuda_fused_q8 > 0 ? size_t(max_ne0) + 16 * size_t(max_ne0 / 32 + 1) +
                                                               8 * size_t(2 * p_.n_layers + 1) + 4 * size_t(max_rows / 32 + 1)
                                                         : 0;
    const size_t act_bytes = 4 * B * (2 * size_t(p_.dim) + 2 * size_t(p_.q_dim()) + 2 * size_t(p_.kv_dim()) +
                                      2 * size_t(p_.ffn_dim) + size_t(p_.n_vocab)) +
                             4 * part_floats + Matmul::scratch_bytes(max_ne0, n_batch_, max_rows, o.tuning.cuda_small_batch) +
                             size_t(max_ne0) + 16 * size_t(max_ne0 / 32 + 1) + fuse_bytes;
    size_t free_b = 0, total_b = 0;
    LD_CUDA(cudaMemGetInfo(&free_b, &total_b));
    MemoryPlan plan;  // memory_plan.h: printed, and a refusal naming the numbers when it does not fit
    plan.device = device_name_;
    plan.weights = weight_bytes;
    plan.kv_cache = 2 * kv_bytes;
    plan.n_ctx = kv_slots_;
    plan.kv_per_position = kv_cache_bytes(p_, 1, 2);
    plan.buffers = act_bytes;
    plan.headroom = size_t(64) << 20;
    plan.free = free_b;
    plan.total = total_b;
    require_fits(plan, "CUDA", "a smaller quantization, the Vulkan backend (it keeps the layers that do not fit in "
                               "system memory) or the CPU backend");
    std::fprintf(stderr, "cuda: %s\n", describe(plan).c_str());

    LD_CUDA(cudaStreamCreateWithFlags(&stream_holder_.s, cudaStreamNonBlocking));
    stream_ = stream_holder_.s;
    weights_ = DeviceBuffer(weight_bytes, "model weights");
    upload_weights(model, o.progress);

    k_cache_ = DeviceBuffer(kv_bytes, "K cache");
    v_cache_ = DeviceBuffer(kv_bytes, "V cache");
    LD_CUDA(cudaMemsetAsync(k_cache_.as(), 0, kv_bytes, stream_));
    LD_CUDA(cudaMemsetAsync(v_cache_.as(), 0, kv_bytes, stream_));
    std::vector<float> inv(size_t(p_.rope_dim / 2));
    for (int i = 0; i < p_.rope_dim / 2; ++i) {
        double f = 1.0 / std::pow(double(p_.rope_theta), 2.0 * i / p_.rope_dim) * p_.rope_freq_scale;
        if (!p_.rope_freq_factors.empty()) f /= p_.rope_freq_factors[size_t(i)];
        inv[size_t(i)] = float(f);
    }
    inv_freq_ = DeviceBuffer(std::max<size_t>(1, inv.size()) * 4, "rope frequencies");
    if (!inv.empty())
        LD_CUDA(cudaMemcpyAsync(inv_freq_.as(), inv.data(), inv.size() * 4, cudaMemcpyHostToDevice, stream_));
    meta_ = DeviceBuffer(4 * (B + 1), "token ids");
    meta_host_ = PinnedBuffer(4 * (B + 1));
    x_ = DeviceBuffer(4 * B * p_.dim, "activations");
    xn_ = DeviceBuffer(4 * B * p_.dim, "activations");
    q_ = DeviceBuffer(4 * B * p_.q_dim(), "activations");
    att_ = DeviceBuffer(4 * B * p_.q_dim(), "activations");
    k_ = DeviceBuffer(4 * B * p_.kv_dim(), "activations");
    v_ = DeviceBuffer(4 * B * p_.kv_dim(), "activations");
    g_ = DeviceBuffer(4 * B * p_.ffn_dim, "activations");
    u_ = DeviceBuffer(4 * B * p_.ffn_dim, "activations");
    logits_ = DeviceBuffer(4 * B * p_.n_vocab, "logits");
    part_ = DeviceBuffer(4 * part_floats, "attention partials");
    xq_ = DeviceBuffer(size_t(max_ne0), "int8 activations");
    xds_ = DeviceBuffer(16 * size_t(max_ne0 / 32 + 1), "int8 activation scales");
    q8_.q = xq_.as<int8_t>();
    q8_.ds = xds_.as<float4>();
    {
        std::vector<LayerMatrices> mats;
        for (const DevLayer& L : layers_)
            mats.push_back({&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down});
        fusion_ = plan_decode_fusion(o.tuning.cuda_fused_q8, mats, output_, p_.dim, p_.head_dim);
    }
    if (fusion_.level > 0) {  // what the variant changed, for the device logs and the tests
        int swiglu = 0, norms = fusion_.out_norm ? 1 : 0;
        for (const DecodeFusion::Layer& f : fusion_.layers) {
            swiglu += f.swiglu;
            norms += f.attn_norm + f.ffn_norm;
        }
        std::fprintf(stderr, "cuda: int8 epilogues (LLAMADESK_CUDA_FUSED_Q8=%d): %d of %d SwiGLU outputs, %d of %d RMSNorms\n",
                     fusion_.level, swiglu, p_.n_layers, norms, 2 * p_.n_layers + 1);
    }
    if (fusion_.level > 0) {
        xq2_ = DeviceBuffer(size_t(max_ne0), "int8 activations (fused)");
        xds2_ = DeviceBuffer(16 * size_t(max_ne0 / 32 + 1), "int8 activation scales (fused)");
        q8n_ = Q8Act{xq2_.as<int8_t>(), xds2_.as<float4>()};
        norm_ss_ = DeviceBuffer(8 * size_t(2 * p_.n_layers + 1), "RMSNorm sums (fused)");
        group_count_ = DeviceBuffer(4 * size_t(max_rows / 32 + 1), "int8 epilogue counters");
        LD_CUDA(cudaMemsetAsync(group_count_.as(), 0, group_count_.bytes(), stream_));
    }
    mm_ = std::make_unique<Matmul>(stream_, max_ne0, n_batch_, max_rows, 0, mv_split_, o.tuning.cuda_small_batch,
                                   o.tuning.cuda_mv_variant);
    if (const int v = o.tuning.cuda_mv_variant)  // unmeasured variants: the device logs say which ran
        std::fprintf(stderr, "cuda: decode matvec variants (LLAMADESK_CUDA_MV_VARIANT=%d):%s%s%s\n", v,
                     v & kMvGateUp4 ? " gate/up 4 rows a warp" : "", v == (kMvGateUp4 | kMvQ6Lean) ? "," : "",
                     v & kMvQ6Lean ? " Q6_K lean loads" : "");
    LD_CUDA(cudaStreamSynchronize(stream_));
}

CudaBackend::~CudaBackend() {
    cudaSetDevice(dev_);
    if (stream_) cudaStreamSynchronize(stream_);
    destroy_graph();
    mm_.reset();
    // DeviceBuffer members free themselves (on this device) after this body, the stream last.
}

void CudaBackend::destroy_graph() {
    if (graph_exec_) cudaGraphExecDestroy(graph_exec_);
    if (graph_) cudaGraphDestroy(graph_);
    graph_exec_ = nullptr;
    graph_ = nullptr;
}

void CudaBackend::validate(const Model& m) const {
    const int hd = p_.head_dim;
    // Any even size: llama2.c models have heads of 8 (stories260K); Llama has 64 and 128.
    if (hd <= 0 || hd % 2 != 0 || hd > 256) fail("the CUDA backend supports even head sizes up to 256, not ", hd);
    if (p_.n_kv_heads <= 0 || p_.n_heads % p_.n_kv_heads != 0)
        fail("the CUDA backend needs n_heads (", p_.n_heads, ") to be a multiple of n_kv_heads (", p_.n_kv_heads, ")");
    if (p_.rope_dim > hd || p_.rope_dim % 2 != 0) fail("the CUDA backend cannot rotate ", p_.rope_dim, " of ", hd, " dims");
    if (int(m.layers.size()) != p_.n_layers) fail("model has ", m.layers.size(), " layers, expected ", p_.n_layers);
    auto matrix = [](const Weight& w, const char* what) {
        if (!type_supported(w.type)) fail("the CUDA backend cannot use ", type_name(w.type), " weights (", what, ")");
        if (w.ne0 % 8 != 0 && w.type != GgmlType::F32 && w.type != GgmlType::F16)
            fail("the CUDA backend needs ", type_name(w.type), " rows of a multiple of 8 elements (", what, " has ", w.ne0, ")");
        if (w.ne0 > (int64_t(1) << 30) || w.ne1 > (int64_t(1) << 30)) fail(what, " is too large");
    };
    auto vec = [](const Weight& w, const char* what) {
        if (w.type != GgmlType::F32) fail("the CUDA backend expects F32 norm weights (", what, " is ", type_name(w.type), ")");
    };
    matrix(m.tok_embd, "token_embd");
    matrix(m.output, "output");
    vec(m.output_norm, "output_norm");
    for (const LayerWeights& L : m.layers) {
        vec(L.attn_norm, "attn_norm");
        vec(L.ffn_norm, "ffn_norm");
        matrix(L.wq, "attn_q");
        matrix(L.wk, "attn_k");
        matrix(L.wv, "attn_v");
        matrix(L.wo, "attn_output");
        matrix(L.w_gate, "ffn_gate");
        matrix(L.w_up, "ffn_up");
        matrix(L.w_down, "ffn_down");
    }
}

void CudaBackend::upload_weights(const Model& m, const LoadProgress& progress) {
    std::vector<const Weight*> all = {&m.tok_embd, &m.output_norm, &m.output};
    for (const LayerWeights& L : m.layers)
        for (const Weight* w : L.all())
            all.push_back(w);
    size_t total = 0, raw = 0;  // arena bytes (aligned), weight bytes (for progress)
    std::map<const uint8_t*, size_t> offset;  // host data -> offset in weights_ (tied output shares)
    std::vector<const Weight*> unique;
    for (const Weight* w : all) {
        if (offset.count(w->data)) continue;
        offset[w->data] = total;
        unique.push_back(w);
        total += align_up(w->nbytes);
        raw += w->nbytes;
    }
    // Through a pinned staging buffer in slices of whole rows, so progress moves and a cancel
    // lands quickly; rows are rewritten into their device layout on the way (kernels.h).
    size_t slice = size_t(64) << 20;
    for (const Weight* w : unique) slice = std::max(slice, w->row_bytes());
    slice = std::min(slice, std::max<size_t>(total, 1));
    PinnedBuffer staging(slice);
    size_t done = 0;
    uint8_t* base = weights_.as<uint8_t>();
    for (const Weight* w : unique) {
        const size_t rb = std::max<size_t>(1, w->row_bytes());
        const size_t step = w->nbytes % rb == 0 ? slice / rb * rb : slice;
        for (size_t off = 0; off < w->nbytes; off += step) {
            const size_t n = std::min(step, w->nbytes - off);
            if (w->nbytes % rb == 0)
                to_device_layout(w->type, w->ne0, int64_t(n / rb), w->data + off, staging.as<uint8_t>());
            else
                std::memcpy(staging.as(), w->data + off, n);
            LD_CUDA(cudaMemcpyAsync(base + offset[w->data] + off, staging.as(), n, cudaMemcpyHostToDevice, stream_));
            LD_CUDA(cudaStreamSynchronize(stream_));  // before the staging buffer is refilled
            done += n;
            if (progress && !progress(float(double(done) / double(std::max<size_t>(raw, 1)))))
                fail("loading the model onto ", device_name_, " was cancelled");
        }
    }
    auto dev = [&](const Weight& w) {
        DevWeight d;
        d.type = device_type(w.type, w.ne0);
        d.ne0 = w.ne0;
        d.ne1 = w.ne1;
        d.row_bytes = w.row_bytes();
        d.data = base + offset[w.data];
        return d;
    };
    auto devf = [&](const Weight& w) { return reinterpret_cast<const float*>(base + offset[w.data]); };
    tok_embd_ = dev(m.tok_embd);
    output_ = dev(m.output);
    output_norm_ = devf(m.output_norm);
    for (const LayerWeights& L : m.layers) {
        DevLayer d;
        d.attn_norm = devf(L.attn_norm);
        d.ffn_norm = devf(L.ffn_norm);
        d.wq = dev(L.wq);
        d.wk = dev(L.wk);
        d.wv = dev(L.wv);
        d.wo = dev(L.wo);
        d.w_gate = dev(L.w_gate);
        d.w_up = dev(L.w_up);
        d.w_down = dev(L.w_down);
        layers_.push_back(d);
    }
}

void CudaBackend::forward_batch(const BatchView& batch) {
    const int B = batch.n, pos = batch.pos;
    LD_CUDA(cudaSetDevice(dev_));  // the caller's thread may have another current device
    int32_t* meta = meta_host_.as<int32_t>();
    meta[0] = pos;
    std::memcpy(meta + 1, batch.tokens, sizeof(int32_t) * size_t(B));
    LD_CUDA(cudaMemcpyAsync(meta_.as(), meta, sizeof(int32_t) * size_t(B + 1), cudaMemcpyHostToDevice, stream_));
    const int out_rows = batch.logit_rows();
    const int out_first = batch.first_logit_row();
    if (!batch.contiguous) {
        const PagedStep paged = upload_paged(batch);
        enqueue(B, 0, 0, out_rows, &paged);
    } else if (B == 1 && out_rows == 1 && use_graph_ && graph_exec_) {
        LD_CUDA(cudaGraphLaunch(graph_exec_, stream_));
    } else {
        enqueue(B, (pos + B + attn_chunk_ - 1) / attn_chunk_, out_first, out_rows);
        // After the first decode step has run eagerly (which also loads the kernels' modules,
        // something CUDA does lazily and that should stay out of a capture), the same step is
        // recorded as a graph for every later one. Recording executes nothing.
        if (B == 1 && out_rows == 1 && use_graph_) {
            try {
                capture_decode_graph();
            } catch (const Error& e) {
                // Not fatal: eager launches compute the same thing, a little slower.
                std::fprintf(stderr, "CUDA: decode graph capture failed (%s); decoding without graphs\n", e.what());
                cudaGetLastError();
                destroy_graph();
                use_graph_ = false;
            }
        }
    }
    if (out_rows > 0)
        LD_CUDA(cudaMemcpyAsync(batch.logits, logits_.as<float>(), sizeof(float) * size_t(out_rows) * p_.n_vocab,
                                cudaMemcpyDeviceToHost, stream_));
    // Also keeps meta_host_ from being rewritten while its copy is pending, and surfaces faults.
    LD_CUDA(cudaStreamSynchronize(stream_));
}

PagedStep CudaBackend::upload_paged(const BatchView& batch) {
    const int B = batch.n, out_rows = batch.logit_rows();
    // Runs of one sequence's consecutive positions: 2 rows or more are a prompt chunk.
    PagedStep p;
    std::vector<int32_t> single;
    for (int t = 0; t < B;) {
        int e = t + 1;
        while (e < B && batch.seq[e] == batch.seq[t] && batch.positions[e] == batch.positions[e - 1] + 1) ++e;
        if (e - t >= 2) {
            p.chunks.push_back(PagedChunk{t, e - t, batch.positions[t], 0});
        } else {
            single.push_back(t);
            p.single_longest = std::max(p.single_longest, batch.positions[t] + 1);
        }
        t = e;
    }
    p.n_single = int(single.size());
    const size_t n_chunks = p.chunks.size();
    // Only the sequences this step touches, and of each only the blocks up to its last position
    // here (a later step uploads its own).
    std::vector<int32_t> table_of(size_t(batch.n_seqs), -1), last(size_t(batch.n_seqs), -1), order;
    for (int t = 0; t < B; ++t) {
        const int s = batch.seq[t];
        if (last[size_t(s)] < 0) order.push_back(s);
        last[size_t(s)] = std::max(last[size_t(s)], batch.positions[t]);
    }
    size_t n_table = 0;
    for (int s : order) {
        table_of[size_t(s)] = int32_t(n_table);
        n_table += size_t(last[size_t(s)] / kKvBlock + 1);
    }
    const size_t count = 3 * size_t(B) + size_t(out_rows) + single.size() + n_chunks + n_table;
    if (paged_host_.bytes() < 4 * count) {
        const size_t bytes = std::max<size_t>(4 * count, 4 * (4 * size_t(n_batch_) + 1024));
        paged_ = DeviceBuffer();  // the stream is idle: every step ends with a synchronize
        paged_ = DeviceBuffer(bytes, "paged step tables");
        paged_host_ = PinnedBuffer(bytes);
    }
    int32_t* h = paged_host_.as<int32_t>();
    int32_t* pos = h;
    int32_t* slot = h + B;
    int32_t* off = h + 2 * B;
    int32_t* rows = h + 3 * B;
    int32_t* singles = rows + out_rows;
    int32_t* chunk_pos = singles + single.size();
    int32_t* tables = chunk_pos + n_chunks;
    for (int t = 0; t < B; ++t) {
        pos[t] = batch.positions[t];
        slot[t] = int32_t(batch.slot(t));  // < kv_slots_ <= 2^30 (Backend::forward checked the ids)
        off[t] = table_of[size_t(batch.seq[t])];
    }
    std::copy(batch.logit_row, batch.logit_row + out_rows, rows);
    std::copy(single.begin(), single.end(), singles);
    for (size_t c = 0; c < n_chunks; ++c) {
        PagedChunk& ch = p.chunks[c];
        chunk_pos[c] = ch.first_pos - ch.r0;
        ch.table_off = table_of[size_t(batch.seq[ch.r0])];
    }
    for (int s : order)
        std::copy(batch.seqs[s].blocks, batch.seqs[s].blocks + last[size_t(s)] / kKvBlock + 1, tables + table_of[size_t(s)]);
    LD_CUDA(cudaMemcpyAsync(paged_.as(), h, 4 * count, cudaMemcpyHostToDevice, stream_));
    const int32_t* d = paged_.as<int32_t>();
    p.positions = d;
    p.slots = d + B;
    p.table_off = d + 2 * B;
    p.logit_rows = d + 3 * B;
    p.single_rows = p.logit_rows + out_rows;
    p.chunk_pos = p.single_rows + single.size();
    p.tables = p.chunk_pos + n_chunks;
    return p;
}

void CudaBackend::copy_kv_block(int src, int dst) {
    const int n_blocks = kv_blocks();
    if (src < 0 || src >= n_blocks || dst < 0 || dst >= n_blocks)
        fail("copy_kv_block(", src, ", ", dst, "): blocks are 0 to ", n_blocks - 1);
    if (src == dst) return;
    LD_CUDA(cudaSetDevice(dev_));
    // A block is contiguous in each layer: one copy per layer and cache.
    const size_t kvd = size_t(p_.kv_dim()), layer = size_t(kv_slots_) * kvd, bytes = 2 * size_t(kKvBlock) * kvd;
    for (DeviceBuffer* cache : {&k_cache_, &v_cache_})
        for (int l = 0; l < p_.n_layers; ++l) {
            uint16_t* base = cache->as<uint16_t>() + size_t(l) * layer;
            LD_CUDA(cudaMemcpyAsync(base + size_t(dst) * kKvBlock * kvd, base + size_t(src) * kKvBlock * kvd, bytes,
                                    cudaMemcpyDeviceToDevice, stream_));
        }
    LD_CUDA(cudaStreamSynchronize(stream_));
}

void CudaBackend::capture_decode_graph() {
    LD_CUDA(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    try {
        enqueue(1, attn_chunks_max_, 0, 1);
    } catch (...) {
        cudaGraph_t broken = nullptr;
        cudaStreamEndCapture(stream_, &broken);
        if (broken) cudaGraphDestroy(broken);
        throw;
    }
    LD_CUDA(cudaStreamEndCapture(stream_, &graph_));
    LD_CUDA(cudaGraphInstantiate(&graph_exec_, graph_, 0));
}

AttnArgs CudaBackend::attn_args(const uint16_t* kc, const uint16_t* vc, const int32_t* d_pos, int n_chunks) const {
    AttnArgs a;
    a.q = q_.as<float>();
    a.k = kc;
    a.v = vc;
    a.out = att_.as<float>();
    a.part = part_.as<float>();
    a.d_pos = d_pos;
    a.n_heads = p_.n_heads;
    a.n_kv = p_.n_kv_heads;
    a.hd = p_.head_dim;
    a.chunk = attn_chunk_;
    a.n_chunks = n_chunks;
    a.scale = 1.0f / std::sqrt(float(p_.head_dim));
    return a;
}

void CudaBackend::attend_paged(const PagedStep& paged, const uint16_t* kc, const uint16_t* vc) {
    // Prompt chunks: the one-sequence kernels, tiles found through the block table.
    for (size_t c = 0; c < paged.chunks.size(); ++c) {
        const PagedChunk& ch = paged.chunks[c];
        AttnArgs a = attn_args(kc, vc, paged.chunk_pos + c, (ch.first_pos + ch.len + attn_chunk_ - 1) / attn_chunk_);
        a.table = paged.tables + ch.table_off;
        for (int t0 = ch.r0; t0 < ch.r0 + ch.len; t0 += kAttnSlice) {
            a.t0 = t0;
            a.n_tok = std::min(kAttnSlice, ch.r0 + ch.len - t0);
            launch_attention(a, stream_);
        }
    }
    // The other rows (decode tokens of several sequences): one launch for all.
    if (paged.n_single > 0) {
        PagedAttnArgs a;
        a.q = q_.as<float>();
        a.k = kc;
        a.v = vc;
        a.out = att_.as<float>();
        a.positions = paged.positions;
        a.table_off = paged.table_off;
        a.tables = paged.tables;
        a.rows = paged.single_rows;
        a.block = kKvBlock;
        a.n_tok = paged.n_single;
        a.n_heads = p_.n_heads;
        a.n_kv = p_.n_kv_heads;
        a.hd = p_.head_dim;
        a.scale = 1.0f / std::sqrt(float(p_.head_dim));
        // Split-K where few rows with long contexts would leave SMs idle (into part_, which the
        // prompt chunks' launches above are done with: same stream).
        a.chunk = paged_attention_chunk(a.n_tok, a.n_heads, a.hd, paged.single_longest, kKvBlock, sm_count_,
                                        part_.bytes() / sizeof(float), paged_chunk_);
        if (a.chunk > 0) {
            a.part = part_.as<float>();
            a.n_chunks = (paged.single_longest + a.chunk - 1) / a.chunk;
        }
        launch_attention_paged(a, stream_);
    }
}

void CudaBackend::enqueue(int B, int n_chunks, int out_first, int out_rows, const PagedStep* paged) {
    const int dim = p_.dim, kvd = p_.kv_dim(), hd = p_.head_dim;
    const int32_t* d_pos = meta_.as<int32_t>();
    const int32_t* d_tok = d_pos + 1;
    float* x = x_.as<float>();
    float* xn = xn_.as<float>();
    // One token: the RMSNorms also quantize their output for the int8 matvecs, and the other
    // matvec inputs (attention output, SwiGLU) are quantized when their weights use it (8B
    // Q4_K_M on the H200: 366 against 162 tok/s with f32 activations). Steps of 2 to
    // Tuning::cuda_small_batch tokens get int8 activations too: Matmul quantizes them itself.
    const bool q8 = B == 1;
    const Q8Act* xq = q8 ? &q8_ : nullptr;
    // Tuning::cuda_fused_q8 (one token, one sequence): the RMSNorms' int8 output (norm_q) goes to
    // q8n_, and the sites fusion_ names are quantized by the matvec before them.
    const bool fz = q8 && !paged && fusion_.level > 0;
    const Q8Act* norm_q = fz ? &q8n_ : xq;
    double* ss = fz && fusion_.any_norm() ? norm_ss_.as<double>() : nullptr;  // [2l], [2l + 1], [2 n_layers]
    double* to_zero = ss;  // by the step's first RMSNorm (layer 0's, never folded), before any producer
    auto norm = [&](const float* in, const float* w, float* out, int rows) {
        if (rows == 1) {
            launch_rmsnorm_q8(in, w, out, q8 && dim % 32 == 0 ? *norm_q : Q8Act{}, dim, p_.norm_eps, stream_, to_zero,
                              to_zero ? 2 * p_.n_layers + 1 : 0);
            to_zero = nullptr;
        } else {
            launch_rmsnorm(in, w, out, dim, rows, p_.norm_eps, stream_);
        }
    };
    // The folded norm's input side (x * w quantized, the sums scaled) and output side (a residual
    // add that quantizes x * w into q8n_ for the next consumer).
    auto fused_in = [&](int i) {
        MvFuse f;
        f.in_ss = ss + i;
        f.in_eps = p_.norm_eps;
        return f;
    };
    auto fused_out = [&](const float* w, int i) {
        if (to_zero) fail("CUDA: a folded RMSNorm before the step's first RMSNorm zeroed the sums");
        MvFuse f;
        f.out_q = q8n_;
        f.out_norm = w;
        f.out_ss = ss + i;
        f.group_count = group_count_.as<int>();
        return f;
    };
    auto quantize_for = [&](const DevWeight& w, const float* in) {
        if (q8 && has_q8_dot(w.type)) launch_quantize_q8(in, int(w.ne0), q8_, stream_);
    };
    launch_dequant(tok_embd_.type, tok_embd_.data, tok_embd_.row_bytes, dim, d_tok, 0, B, x, false, stream_);
    const size_t layer_kv = size_t(kv_slots_) * size_t(kvd);
    for (int l = 0; l < p_.n_layers; ++l) {
        const DevLayer& L = layers_[size_t(l)];
        uint16_t* kc = k_cache_.as<uint16_t>() + size_t(l) * layer_kv;
        uint16_t* vc = v_cache_.as<uint16_t>() + size_t(l) * layer_kv;
        const DecodeFusion::Layer F = fz ? fusion_.layers[size_t(l)] : DecodeFusion::Layer{};
        const MvFuse attn_in = F.attn_norm ? fused_in(2 * l) : MvFuse{};
        if (!F.attn_norm) norm(x, L.attn_norm, xn, B);
        const DevWeight* qkv[] = {&L.wq, &L.wk, &L.wv};
        float* qkv_out[] = {q_.as<float>(), k_.as<float>(), v_.as<float>()};
        MvRope rope;
        rope.d_pos = d_pos;
        rope.inv_freq = inv_freq_.as<float>();
        rope.k_cache = kc;
        rope.v_cache = vc;
        rope.hd = hd;
        rope.rope_dim = p_.rope_dim;
        bool att_q8 = false;
        if (paged) {
            // Each token to its own slot, attention through the block tables.
            mm_->run_shared_input(qkv, qkv_out, 3, xn, B, xq);
            launch_rope_store_paged(q_.as<float>(), k_.as<float>(), v_.as<float>(), kc, vc, paged->positions,
                                    paged->slots, B, p_.n_heads, p_.n_kv_heads, hd, p_.rope_dim,
                                    inv_freq_.as<float>(), stream_);
            attend_paged(*paged, kc, vc);
        } else {
            // RoPE and the KV store in the q/k/v matvec's epilogue where it applies (366 against 351
            // tok/s with the separate kernel, which the other cases still use).
            if (!(q8 && mm_->qkv_rope(qkv, qkv_out, xn, norm_q, rope, F.attn_norm ? &attn_in : nullptr))) {
                if (F.attn_norm) fail("CUDA: layer ", l, "'s folded attention norm has no q/k/v epilogue");
                mm_->run_shared_input(qkv, qkv_out, 3, xn, B, norm_q);
                launch_rope_store(q_.as<float>(), k_.as<float>(), v_.as<float>(), kc, vc, d_pos, B, p_.n_heads,
                                  p_.n_kv_heads, hd, p_.rope_dim, inv_freq_.as<float>(), stream_);
            }
            AttnArgs a = attn_args(kc, vc, d_pos, n_chunks);
            att_q8 = q8 && has_q8_dot(L.wo.type) && hd % 32 == 0;
            if (att_q8) a.out_q = q8_;  // the combine quantizes wo's input
            for (int t0 = 0; t0 < B; t0 += kAttnSlice) {
                a.t0 = t0;
                a.n_tok = std::min(kAttnSlice, B - t0);
                launch_attention(a, stream_);
            }
        }
        if (!att_q8) quantize_for(L.wo, att_.as<float>());
        const MvFuse wo_out = F.ffn_norm ? fused_out(L.ffn_norm, 2 * l + 1) : MvFuse{};
        mm_->run(L.wo, att_.as<float>(), B, x, true, xq, F.ffn_norm ? &wo_out : nullptr);
        if (!F.ffn_norm) norm(x, L.ffn_norm, xn, B);
        MvFuse gu = F.ffn_norm ? fused_in(2 * l + 1) : MvFuse{};
        if (F.swiglu) {  // silu(g) * u quantized into q8_ (wo, its last reader, is done)
            gu.out_q = q8_;
            gu.group_count = group_count_.as<int>();
        }
        mm_->gate_up(L.w_gate, L.w_up, xn, B, g_.as<float>(), u_.as<float>(), norm_q,
                     F.ffn_norm || F.swiglu ? &gu : nullptr);
        if (!F.swiglu) quantize_for(L.w_down, g_.as<float>());
        // The next RMSNorm (layer l + 1's attention norm, or the output norm) folded in.
        const bool last = l + 1 == p_.n_layers;
        const bool next = fz && (last ? fusion_.out_norm : fusion_.layers[size_t(l) + 1].attn_norm);
        const MvFuse down_out = next ? fused_out(last ? output_norm_ : layers_[size_t(l) + 1].attn_norm, 2 * l + 2)
                                     : MvFuse{};
        mm_->run(L.w_down, g_.as<float>(), B, x, true, xq, next ? &down_out : nullptr);
    }
    if (out_rows == 0) return;
    const float* rows = x + size_t(out_first) * dim;
    float* normed = xn;
    if (paged) {
        // The wanted rows anywhere in the batch: gathered first (x is dead after the last layer).
        launch_gather_rows(x, paged->logit_rows, out_rows, dim, xn, stream_);
        rows = xn;
        normed = x;
    }
    const bool out_fused = fz && fusion_.out_norm && out_rows == 1;
    if (!out_fused) norm(rows, output_norm_, normed, out_rows);
    const MvFuse out_in = out_fused ? fused_in(2 * p_.n_layers) : MvFuse{};
    mm_->run(output_, normed, out_rows, logits_.as<float>(), false, out_rows == 1 ? norm_q : nullptr,
             out_fused ? &out_in : nullptr);
}

}  // namespace

int pick_device(const std::string& spec) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        cudaGetLastError();
        fail("no CUDA device: ", cudaGetErrorString(e));
    }
    if (count == 0) fail("no CUDA device: the driver reports none");
    std::vector<cudaDeviceProp> props(static_cast<size_t>(count));
    std::string names;
    for (int i = 0; i < count; ++i) {
        LD_CUDA(cudaGetDeviceProperties(&props[size_t(i)], i));
        names += (i ? ", " : "") + std::to_string(i) + ": " + props[size_t(i)].name;
    }
    if (spec.empty()) {
        int best = 0;
        for (int i = 1; i < count; ++i)
            if (props[size_t(i)].totalGlobalMem > props[size_t(best)].totalGlobalMem) best = i;
        return best;
    }
    if (std::all_of(spec.begin(), spec.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        const long i = std::strtol(spec.c_str(), nullptr, 10);
        if (spec.size() > 6 || i >= count) fail("no CUDA device ", spec, " (devices: ", names, ")");
        return int(i);
    }
    for (int i = 0; i < count; ++i)
        if (lower(props[size_t(i)].name).find(lower(spec)) != std::string::npos) return i;
    fail("no CUDA device matches '", spec, "' (devices: ", names, ")");
}

std::unique_ptr<Backend> create_backend(const Model& model, const BackendOptions& options) {
    return std::make_unique<CudaBackend>(model, options);
}

bool backend_memory(const Backend& backend, MemoryInfo* out) {
    const auto* b = dynamic_cast<const CudaBackend*>(&backend);
    if (!b) return false;
    LD_CUDA(cudaSetDevice(b->device()));
    size_t free_b = 0, total_b = 0;
    LD_CUDA(cudaMemGetInfo(&free_b, &total_b));
    out->free_bytes = free_b;
    out->total_bytes = total_b;
    return true;
}

}  // namespace ld::cuda
