// Streaming decode speed and time to first byte through `llamadesk-cli serve`, next to the
// engine's own numbers on the same model and threads (benchmarks/server.md).
// usage: node tests/server/bench_server.mjs CLI MODEL [PROMPT_WORDS=48] [TOKENS=32] [REPS=3]
// Not a CTest test: timings need a quiet machine.
import {spawnSync} from "node:child_process";
import {startServerWith, streamCompletion} from "./bench_util.mjs";

const [cli, model, words = "48", tokens = "32", reps = "3"] = process.argv.slice(2);
const N = Number(tokens);
const prompt = Array.from({length: Number(words)}, (_, i) => ["the", "cat", "sat", "on", "a", "mat"][i % 6]).join(" ");
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

// Engine and API runs alternate (the machine's load drifts), each on a prompt of its own so the
// server's prompt cache cannot help: the first word differs, so only BOS is shared.
const WORDS = ["Yesterday", "Tomorrow", "Suddenly", "Meanwhile", "Later", "Often", "Rarely", "Once", "Twice"];
const server = await startServerWith(cli, ["serve", "-m", model, "--port", "0", "--threads", "2"]);
const engine = [], api = [];
async function viaApi(text) {
    const {sent, first, last, usage} = await streamCompletion(server, text, N);
    return {ttfb: first - sent, tps: (usage.completion_tokens - 1) * 1000 / (last - first)};
}
function viaEngine(text) {
    const run = spawnSync(cli, ["generate", "-m", model, "--threads", "2", "-p", text, "-n", tokens, "--temp", "0"],
                          {encoding: "utf8", stdio: ["ignore", "ignore", "pipe"]});
    if (run.status !== 0) throw new Error(`generate failed: ${run.stderr}`);
    return {ttft: Number(/time to first token: ([\d.]+) ms/.exec(run.stderr)[1]),
            tps: Number(/generation: \d+ tokens, ([\d.]+) tok\/s/.exec(run.stderr)[1])};
}
await viaApi(`${WORDS.at(-1)} ${prompt}`);  // warm-up
for (let r = 0; r < Number(reps); ++r) {
    const text = `${WORDS[r % (WORDS.length - 1)]} ${prompt}`;
    engine.push(viaEngine(text));
    api.push(await viaApi(text));
}
await server.stop();
const e = {ttft: median(engine.map((x) => x.ttft)), tps: median(engine.map((x) => x.tps))};
const a = {ttfb: median(api.map((x) => x.ttfb)), tps: median(api.map((x) => x.tps))};
// Each API run against the engine run just before it, then the median: drift in the machine's
// load cancels better than between the two medians.
const pairs = engine.map((x, i) => ({overhead: (x.tps / api[i].tps - 1) * 100, ttfb: api[i].ttfb - x.ttft}));
console.log(JSON.stringify({prompt_words: Number(words), tokens: N, engine: e, api: a,
                            decode_overhead_pct: median(pairs.map((p) => p.overhead)),
                            ttfb_overhead_ms: median(pairs.map((p) => p.ttfb)), runs: {engine, api}}, null, 1));
