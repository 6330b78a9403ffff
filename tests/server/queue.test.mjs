// The generation slot and its queue: a client that aborts a stream frees the engine at once,
// concurrent requests all complete in arrival order, and past the queue the server says 503
// with Retry-After.
import {test, after} from "node:test";
import assert from "node:assert/strict";
import {TINY, requirements, startServer, client, post} from "./helpers.mjs";

const req = await requirements();
const opts = {skip: req.skip};
const servers = [];
after(async () => { for (const s of servers) await s.stop(); });
async function serve(extra) {
    const s = await startServer(TINY, ["--ctx", "4096", ...extra]);
    servers.push(s);
    return s;
}
const MODEL = "tiny-llama31-random-f16";
const messages = [{role: "user", content: "Hi"}];

test("a client that aborts mid-stream frees the slot: the next request starts at once", opts, async () => {
    const server = await serve([]);
    const api = client(req.OpenAI, server);
    // Alone, 4000 tokens take seconds on a CPU; the next request must not wait for them.
    const controller = new AbortController();
    const stream = await api.chat.completions.create(
        {model: MODEL, messages, max_tokens: 4000, temperature: 0, stream: true}, {signal: controller.signal});
    let chunks = 0;
    try {
        for await (const c of stream) if (++chunks === 5) controller.abort();
    } catch (e) {
        if (e.name !== "APIUserAbortError" && e.name !== "AbortError") throw e;
    }
    assert.ok(chunks >= 5 && chunks < 100, `${chunks} chunks`);
    const t0 = performance.now();
    const r = await api.chat.completions.create({model: MODEL, messages, max_tokens: 8, temperature: 0});
    const ms = performance.now() - t0;
    assert.equal(r.usage.completion_tokens, 8);
    assert.ok(ms < 1500, `the next request took ${ms.toFixed(0)} ms: the aborted generation kept running`);
});

test("a non-streaming client that hangs up frees the slot too", opts, async () => {
    const server = await serve([]);
    const api = client(req.OpenAI, server);
    const controller = new AbortController();
    const t = setTimeout(() => controller.abort(), 300);
    await assert.rejects(api.chat.completions.create({model: MODEL, messages, max_tokens: 4000, temperature: 0},
                                                     {signal: controller.signal}));
    clearTimeout(t);
    const t0 = performance.now();
    const r = await api.chat.completions.create({model: MODEL, messages, max_tokens: 8, temperature: 0});
    const ms = performance.now() - t0;
    assert.equal(r.usage.completion_tokens, 8);
    assert.ok(ms < 1500, `the next request took ${ms.toFixed(0)} ms: the abandoned generation kept running`);
});

test("8 concurrent requests all complete, in arrival order", opts, async () => {
    const server = await serve(["--queue", "8"]);
    const api = client(req.OpenAI, server);
    const started = [], finished = [];
    const consume = async (i, s) => {
        let text = "";
        for await (const c of s) {
            const piece = c.choices[0]?.delta?.content ?? "";
            if (piece && !text) started.push(i);  // text only comes once the job runs
            text += piece;
        }
        finished.push(i);
        return text;
    };
    // A stream's create() resolves with the response headers, which go out (with the role chunk)
    // once the request is queued: awaiting it before sending the next fixes the arrival order
    // even on a loaded machine.
    const runs = [];
    for (let i = 0; i < 8; ++i) {
        const s = await api.chat.completions.create(
            {model: MODEL, messages: [{role: "user", content: `Request ${i}`}], max_tokens: 20, temperature: 0, stream: true});
        runs.push(consume(i, s));
    }
    const texts = await Promise.all(runs);
    assert.equal(texts.length, 8);
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(finished, [0, 1, 2, 3, 4, 5, 6, 7]);
    // Queued or not, the same greedy reply as alone.
    const alone = await api.chat.completions.create(
        {model: MODEL, messages: [{role: "user", content: "Request 3"}], max_tokens: 20, temperature: 0});
    assert.equal(texts[3], alone.choices[0].message.content);
});

test("past the queue: 503 with Retry-After and an OpenAI error, then service again", opts, async () => {
    const server = await serve(["--queue", "1"]);
    const api = client(req.OpenAI, server);
    const controllers = [new AbortController(), new AbortController()];
    const body = {model: MODEL, messages, max_tokens: 3000, temperature: 0, stream: true};
    const running = await api.chat.completions.create(body, {signal: controllers[0].signal});
    const it = running[Symbol.asyncIterator]();
    await it.next();  // running
    const waiting = fetch(`${server.url}/v1/chat/completions`, {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body), signal: controllers[1].signal,
    });
    await new Promise((r) => setTimeout(r, 200));  // queued
    const r = await post(server, "/v1/chat/completions", JSON.stringify({...body, stream: false}));
    assert.equal(r.status, 503);
    assert.equal(r.headers.get("retry-after"), "1");
    assert.equal(r.json.error.type, "server_error");
    assert.equal(r.json.error.code, "server_busy");
    await assert.rejects(api.chat.completions.create({...body, stream: false}), (e) => e.status === 503);
    // /health still answers while the slot and queue are full.
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    for (const c of controllers) c.abort();
    await waiting.catch(() => {});
    await new Promise((res) => setTimeout(res, 1200));  // the queued stream notices within a second
    const ok = await api.chat.completions.create({...body, stream: false, max_tokens: 4});
    assert.equal(ok.usage.completion_tokens, 4);
});
