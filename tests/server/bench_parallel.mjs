// Aggregate streaming decode speed through `llamadesk-cli serve` with C concurrent clients, on a
// server that batches (--parallel MAX) against one that runs a request at a time (--parallel 1),
// for benchmarks/server.md.
// usage: node tests/server/bench_parallel.mjs CLI MODEL [CLIENTS=1,2,4,8] [TOKENS=64] [REPS=3] [PROMPT_WORDS=12]
// Not a CTest test: timings need a quiet machine.
//
// Aggregate decode tok/s = the streams' tokens after their first, over the span from the first
// stream's first token to the last stream's last token (so prompt evaluation between requests of
// the one-at-a-time server counts against it, as a client sees it). Counts and servers alternate
// rep by rep, since the machine's load drifts; each request has a prompt of its own (the prefix
// cache cannot help). The batching server runs --parallel MAX(CLIENTS): with C clients exactly C
// sequences decode together, as on a --parallel C server.
import {startServerWith, streamCompletion} from "./bench_util.mjs";

const [cli, model, clientsArg = "1,2,4,8", tokens = "64", reps = "3", words = "12"] = process.argv.slice(2);
const CLIENTS = clientsArg.split(",").map(Number);
const N = Number(tokens);
const MAX = Math.max(...CLIENTS);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const filler = Array.from({length: Number(words)}, (_, i) => ["the", "cat", "sat", "on", "a", "mat"][i % 6]).join(" ");

const common = ["serve", "-m", model, "--port", "0", "--threads", "2", "--ctx", "1024", "--queue", String(MAX)];
const servers = {
    "1": await startServerWith(cli, [...common, "--parallel", "1"]),
    [String(MAX)]: await startServerWith(cli, [...common, "--parallel", String(MAX)]),
};

let serial = 0;
async function stream(server) {
    const {first, last, usage} = await streamCompletion(server, `Story ${++serial}: ${filler}`, N);
    return {first, last, tokens: usage.completion_tokens};
}

async function measure(server, clients) {
    const runs = await Promise.all(Array.from({length: clients}, () => stream(server)));
    const span = Math.max(...runs.map((r) => r.last)) - Math.min(...runs.map((r) => r.first));
    const decoded = runs.reduce((s, r) => s + r.tokens - 1, 0);
    const short = runs.filter((r) => r.tokens < N).length;
    return {tps: decoded * 1000 / span, short};
}

const results = {};
await measure(servers[String(MAX)], 1);  // warm-up (pages of the weights)
await measure(servers["1"], 1);
for (let r = 0; r < Number(reps); ++r) {
    for (const c of CLIENTS) {
        for (const p of ["1", String(MAX)]) {
            const m = await measure(servers[p], c);
            (results[`${c} ${p}`] ??= []).push(m.tps);
            if (m.short) console.error(`note: ${m.short} of ${c} streams ended before ${N} tokens`);
            console.error(`rep ${r + 1}: ${c} clients, --parallel ${p}: ${m.tps.toFixed(1)} tok/s`);
        }
    }
}
console.log(`| clients | --parallel 1 (tok/s) | --parallel ${MAX} (tok/s) | ratio |`);
console.log("| ---: | ---: | ---: | ---: |");
for (const c of CLIENTS) {
    const a = median(results[`${c} 1`]), b = median(results[`${c} ${MAX}`]);
    console.log(`| ${c} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(2)} |`);
}
console.log(JSON.stringify(results));
for (const s of Object.values(servers)) await s.stop();
