// Independent GGUF check with llama.cpp (through node-llama-cpp, a test-time oracle that is
// never shipped): loads MODEL and prints its greedy continuation of PROMPT (BOS + prompt).
// usage: node complete.mjs MODEL PROMPT N
// One thread: llama.cpp's spinning workers crawl when the test machine is busy.
import {getLlama} from "node-llama-cpp";

const [modelPath, prompt, n] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: 256, threads: 1});
const sequence = context.getSequence();
const input = [model.tokens.bos, ...model.tokenize(prompt)];
const out = [];
for await (const token of sequence.evaluate(input, {temperature: 0})) {
    if (model.isEogToken(token)) break;
    out.push(token);
    if (out.length >= Number(n)) break;
}
process.stdout.write(model.detokenize(out));
await llama.dispose();
