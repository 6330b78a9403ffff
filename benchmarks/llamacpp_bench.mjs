// Side-by-side reference: llama.cpp (prebuilt, through node-llama-cpp@3.21.1; a measuring tool,
// never shipped) on the same GGUF file, same prompt length and generation length as
// `llamadesk-cli bench`. Prints prompt and generation tok/s (median of REPS).
// usage (from a folder with node_modules/node-llama-cpp): node llamacpp_bench.mjs MODEL [P] [N] [THREADS] [REPS]
import {getLlama} from "node-llama-cpp";

const [modelPath, p = "512", n = "128", threads = "2", reps = "3"] = process.argv.slice(2);
const P = Number(p), N = Number(n), T = Number(threads), R = Number(reps);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
const pp = [], tg = [];
for (let r = 0; r < R; r++) {
    const context = await model.createContext({contextSize: P + N + 16, threads: T, batchSize: Math.max(P, 1)});
    const seq = context.getSequence();
    // Real text tokens (valid for any vocabulary size), cut to exactly P.
    const prompt = model.tokenize("Once upon a time, in a small town by the sea, ".repeat(P)).slice(0, P);
    let t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(prompt);
    pp.push(P / ((performance.now() - t0) / 1000));
    let count = 0;
    t0 = performance.now();
    for await (const tok of seq.evaluate([prompt[0]], {temperature: 0})) {
        if (++count >= N) break;
    }
    // The first token comes from evaluating one input token, as every later one does.
    tg.push(count / ((performance.now() - t0) / 1000));
    await context.dispose();
}
console.log(JSON.stringify({engine: "llama.cpp (node-llama-cpp 3.21.1)", model: modelPath, threads: T,
                            n_prompt: P, n_gen: N, prompt_tps: median(pp), gen_tps: median(tg)}));
await llama.dispose();
