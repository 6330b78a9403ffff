// Side-by-side reference for `llamadesk-cli bench --reopen N`: llama.cpp (prebuilt, through
// node-llama-cpp@3.21.1; a measuring tool, never shipped) when the user goes back to an N-token
// chat. llama.cpp keeps no cache of other chats: a sequence reuses only the prefix it still holds
// (adaptStateToTokens, what LlamaChatSession does before each prompt), and "the sequences are
// separate from each other and do not share data" (node-llama-cpp's docs). Cases, each timing
// the chat's next message to its first token:
//   same sequence: the chat as it stood, then another chat on the same sequence (one context
//                  of one sequence, as a chat app with one context has), then the next message;
//   own sequence:  a context of two sequences, the other chat on the second (a slot per chat,
//                  as llama-server --parallel: each slot holds its full context, reserved);
//   cold:          an empty sequence.
// The chats are plain text tokens of the same lengths as bench's (the template does not change
// the timing). Prints one JSON line: median ms and the prompt tokens evaluated per case.
// usage (from a folder with node_modules/node-llama-cpp):
//   node llamacpp_reopen.mjs MODEL [N=4000] [THREADS=2] [REPS=3]
import {getLlama} from "node-llama-cpp";

const [modelPath, n = "4000", threads = "2", reps = "3"] = process.argv.slice(2);
const N = Number(n), T = Number(threads), R = Number(reps);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];

const WORDS = ("the report shows that our team should review each budget before March because several customers " +
               "asked about delivery times and prices in the northern region while a new supplier offered better " +
               "terms for larger orders").split(" ");
function tokens(seed, count) {  // English-like text of at least `count` tokens, cut to `count`
    let x = seed, s = "";
    let ids = [];
    while (ids.length < count) {
        for (let i = 0; i < 40; i++) {
            x = (x * 1664525 + 1013904223) % 4294967296;
            s += (s ? " " : "") + WORDS[(x >>> 8) % WORDS.length] + ((x >>> 20) % 9 === 0 ? "." : "");
        }
        ids = model.tokenize(s);
    }
    return ids.slice(0, count);
}
const state = tokens(1, N - 150);                      // the chat after its last reply
const next = state.concat(tokens(2, 150));             // ... and the next message
const other = tokens(3, N);                            // another chat

const context = await model.createContext({sequences: 2, contextSize: N + 512, threads: T, batchSize: 512});
const [seq0, seq1] = [context.getSequence(), context.getSequence()];

// Brings `seq` to `toks` as a chat session would (keeping the prefix it holds) and generates one
// token: {ms, evaluated}.
async function prompt(seq, toks) {
    const t0 = performance.now();
    await seq.adaptStateToTokens(toks, false);
    let keep = Math.min(seq.nextTokenIndex, toks.length - 1);  // the last token runs for its logits
    if (keep < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{start: keep, end: seq.nextTokenIndex}]);
    for await (const _ of seq.evaluate(toks.slice(keep), {temperature: 0})) break;
    return {ms: performance.now() - t0, evaluated: toks.length - keep};
}

await prompt(seq0, next.slice(0, 64));  // untimed warm-up
const cases = {same_sequence: [], own_sequence: [], cold: []};
let evaluated = {};
for (let r = 0; r < R; r++) {
    await seq0.clearHistory();
    await seq1.clearHistory();
    await prompt(seq0, state);
    await prompt(seq0, other);
    let p = await prompt(seq0, next);
    cases.same_sequence.push(p.ms), evaluated.same_sequence = p.evaluated;

    await seq0.clearHistory();
    await prompt(seq0, state);
    await prompt(seq1, other);
    p = await prompt(seq0, next);
    cases.own_sequence.push(p.ms), evaluated.own_sequence = p.evaluated;

    await seq0.clearHistory();
    p = await prompt(seq0, next);
    cases.cold.push(p.ms), evaluated.cold = p.evaluated;
}
const out = {engine: "llama.cpp (node-llama-cpp 3.21.1)", model: modelPath, threads: T, reopen: N,
             prompt_tokens: next.length, sequence_context: seq0.contextSize, repetitions: R};
for (const [k, v] of Object.entries(cases)) {
    out[k + "_ttft_ms"] = Math.round(median(v) * 10) / 10;
    out[k + "_prompt_run"] = evaluated[k];
}
console.log(JSON.stringify(out));
await context.dispose();
await llama.dispose();
