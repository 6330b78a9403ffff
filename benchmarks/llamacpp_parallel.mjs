// Side-by-side reference for `llamadesk-cli bench --parallel N,...`: llama.cpp's own batching
// (prebuilt, through node-llama-cpp@3.21.1; a measuring tool, never shipped). One context with
// max(NS) sequences; a run of N uses the first N: each evaluates one token and then generates
// N_GEN greedily, all at once, so node-llama-cpp puts one token of every sequence into each
// llama_decode batch. The counts alternate rep by rep (as bench does), so their ratios see the
// same machine load. Prints one JSON line per N: aggregate and per-sequence tok/s (median of REPS).
// usage (from a folder with node_modules/node-llama-cpp):
//   node llamacpp_parallel.mjs MODEL [N_GEN=64] [NS=1,2,4,8,16] [THREADS=2] [REPS=3]
import {getLlama} from "node-llama-cpp";

const [modelPath, n = "64", ns = "1,2,4,8,16", threads = "2", reps = "3"] = process.argv.slice(2);
const N_GEN = Number(n), T = Number(threads), R = Number(reps), NS = ns.split(",").map(Number);
const MAX = Math.max(...NS);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
// Real text tokens (valid for any vocabulary size): each sequence starts from a different one.
const starts = model.tokenize("Once upon a time, in a small town by the sea, there lived a cat and a dog.");
const context = await model.createContext({sequences: MAX, contextSize: MAX * (N_GEN + 16), threads: T,
                                           batchSize: Math.max(MAX, 32)});
const seqs = Array.from({length: MAX}, () => context.getSequence());

// Aggregate tok/s of the first S sequences generating N_GEN tokens each, together.
async function run(S) {
    let total = 0;
    const t0 = performance.now();
    await Promise.all(seqs.slice(0, S).map(async (seq, i) => {
        let count = 0;
        for await (const tok of seq.evaluate([starts[i % starts.length]], {temperature: 0})) {
            if (++count >= N_GEN) break;
        }
        total += count;  // a sequence that meets its end token early counts what it made
    }));
    const s = (performance.now() - t0) / 1000;
    for (const seq of seqs.slice(0, S)) await seq.clearHistory();
    return total / s;
}

for (const S of NS) await run(S);  // untimed warm-up
const agg = NS.map(() => []);
for (let r = 0; r < R; r++)
    for (let i = 0; i < NS.length; i++) agg[i].push(await run(NS[i]));
for (let i = 0; i < NS.length; i++) {
    const a = median(agg[i]);
    console.log(JSON.stringify({engine: "llama.cpp (node-llama-cpp 3.21.1)", model: modelPath, threads: T,
                                n_gen: N_GEN, parallel: NS[i], tg_aggregate: a, tg_per_sequence: a / NS[i]}));
}
await context.dispose();
await llama.dispose();
