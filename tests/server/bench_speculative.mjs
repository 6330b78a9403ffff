// Speculative decoding through `llamadesk-cli serve`: the same greedy requests, whose replies
// repeat the prompt's text, against a plain server and a `--lookup` one (or `--draft MODEL`),
// alternating request by request (benchmarks/speculative.md, "Through the API server").
// usage: node tests/server/bench_speculative.mjs CLI MODEL [TOKENS=128] [REPS=5] [CLIENTS=1] [-- SERVE_ARGS...]
//   SERVE_ARGS: what the speculating server adds (default --lookup), e.g. -- --draft small.gguf
// With CLIENTS > 1 both servers run --parallel CLIENTS and that many requests go at once.
// Not a CTest test: timings need a quiet machine.
import {startServerWith, streamCompletion} from "./bench_util.mjs";

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const [cli, model, tokens = "128", reps = "5", clients = "1"] = dash >= 0 ? argv.slice(0, dash) : argv;
const specArgs = dash >= 0 ? argv.slice(dash + 1) : ["--lookup"];
const N = Number(tokens), C = Number(clients);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

// A paragraph written out three times: the model's likeliest continuation is a fourth copy, which
// is what an editor's "rewrite this" or a quoting summary looks like to prompt lookup. Each
// request's paragraph starts with a word of its own so the prompt cache cannot help.
const WORDS = ["Yesterday", "Tomorrow", "Suddenly", "Meanwhile", "Later", "Often", "Rarely", "Once", "Twice", "Soon"];
const paragraph = (w) => `${w} the little cat sat on the warm mat by the door. The dog ran to the park to play with a red ball. ` +
    "Mom made a big cake and everyone was happy.";
const prompt = (i) => Array(3).fill(paragraph(WORDS[i % WORDS.length])).join("\n");

const base = ["serve", "-m", model, "--port", "0", "--threads", "2", ...(C > 1 ? ["--parallel", String(C)] : [])];
const plain = await startServerWith(cli, base);
const spec = await startServerWith(cli, [...base, ...specArgs]);

// C requests at once; aggregate decode tok/s (tokens after each stream's first, over the span
// from the first stream's first token to the last stream's last), and the predictions' counts.
async function round(server, r) {
    const runs = await Promise.all(Array.from({length: C}, (_, c) => streamCompletion(server, prompt(r * C + c), N)));
    const toks = runs.reduce((s, x) => s + x.usage.completion_tokens - 1, 0);
    const span = Math.max(...runs.map((x) => x.last)) - Math.min(...runs.map((x) => x.first));
    const acc = runs.reduce((s, x) => s + (x.usage.completion_tokens_details?.accepted_prediction_tokens ?? 0), 0);
    const rej = runs.reduce((s, x) => s + (x.usage.completion_tokens_details?.rejected_prediction_tokens ?? 0), 0);
    return {tps: toks * 1000 / span, tokens: runs.map((x) => x.usage.completion_tokens), accepted: acc, rejected: rej};
}

await round(plain, 99);  // warm-up
await round(spec, 99);
const a = [], b = [];
for (let r = 0; r < Number(reps); ++r) {  // alternating: the machine's load drifts
    a.push(await round(plain, r));
    b.push(await round(spec, r));
}
await plain.stop();
await spec.stop();
const acc = b.reduce((s, x) => s + x.accepted, 0), rej = b.reduce((s, x) => s + x.rejected, 0);
console.log(JSON.stringify({
    model, tokens: N, clients: C, speculating: specArgs.join(" "),
    plain_tps: median(a.map((x) => x.tps)), speculative_tps: median(b.map((x) => x.tps)),
    speedup_median_of_pairs: median(a.map((x, i) => b[i].tps / x.tps)),
    accepted: acc, rejected: rej, acceptance: acc / Math.max(1, acc + rej),
    runs: {plain: a, speculative: b}}, null, 1));
