// Shared by the benchmark scripts (bench_server.mjs, bench_parallel.mjs): starting a server
// (helpers.mjs needs the test environment) and one timed streaming request.
import {spawn} from "node:child_process";

export function startServerWith(cli, args) {
    return new Promise((resolve, reject) => {
        const proc = spawn(cli, args, {stdio: ["ignore", "ignore", "pipe"]});
        let err = "";
        proc.stderr.on("data", (d) => {
            err += d;
            const m = /listening on http:\/\/[^\s]+:(\d+)/.exec(err);
            const id = /^model (\S+)/m.exec(err);
            if (m && id && !proc.ready) {
                proc.ready = true;
                resolve({url: `http://127.0.0.1:${m[1]}`, modelId: id[1],
                         stop: () => new Promise((r) => { proc.once("exit", r); proc.kill("SIGTERM"); })});
            }
        });
        proc.once("exit", (code) => { if (!proc.ready) reject(new Error(`serve exited ${code}: ${err}`)); });
    });
}

// One streamed /v1/completions request (greedy, with the usage chunk), timed as a client sees it:
// performance.now() when it was sent and when the first and the last chunk with text arrived.
export async function streamCompletion(server, prompt, maxTokens) {
    const sent = performance.now();
    const res = await fetch(`${server.url}/v1/completions`, {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({model: server.modelId, prompt, max_tokens: maxTokens, temperature: 0, stream: true,
                              stream_options: {include_usage: true}}),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    let first = 0, last = 0, buf = "", usage = null;
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
        const now = performance.now();
        buf += decoder.decode(chunk, {stream: true});
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
            const ev = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (!ev.startsWith("data: {")) continue;  // "data: [DONE]"
            const j = JSON.parse(ev.slice(6));
            if (j.usage) usage = j.usage;
            if (j.choices?.[0]?.text) { if (!first) first = now; last = now; }
        }
    }
    if (!usage) throw new Error("no usage chunk");
    return {sent, first, last, usage};
}
