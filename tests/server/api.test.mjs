// `llamadesk-cli serve` through the official openai client: chat and completions, streaming and
// not, stop strings, token limits, usage, seeds and logprobs; at temperature 0 the API's text is
// `llamadesk-cli generate`'s on the same input.
import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {STORIES, TINY, requirements, startServer, cliGenerate, client, post, sseEvents} from "./helpers.mjs";

const req = await requirements();
const opts = {skip: req.skip};
let stories, tiny, api, tinyApi;

before(async () => {
    if (req.skip) return;
    [stories, tiny] = await Promise.all([startServer(STORIES), startServer(TINY, ["--ctx", "2048"])]);
    api = client(req.OpenAI, stories);
    tinyApi = client(req.OpenAI, tiny);
});
after(async () => { await stories?.stop(); await tiny?.stop(); });

const PROMPT = "Once upon a time";

test("models and health", opts, async () => {
    const models = await api.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ["stories260K"]);
    assert.equal(models.data[0].object, "model");
    const health = await fetch(`${stories.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), {status: "ok"});
});

test("completion at temperature 0 equals generate -p, with usage", opts, async () => {
    const want = await cliGenerate(STORIES, ["-p", PROMPT, "-n", "40", "--temp", "0"]);
    const r = await api.completions.create({model: "stories260K", prompt: PROMPT, max_tokens: 40, temperature: 0});
    assert.equal(r.object, "text_completion");
    assert.equal(r.choices[0].text, want);
    assert.equal(r.choices[0].finish_reason, "length");
    // BOS + "Once upon a time" (4 tokens, see `llamadesk-cli tokenize`)
    assert.deepEqual(r.usage, {prompt_tokens: 5, completion_tokens: 40, total_tokens: 45});
    const s = await api.completions.create({model: "stories260K", prompt: PROMPT, max_tokens: 40, temperature: 0, stream: true});
    let text = "", finish = null;
    for await (const c of s) { text += c.choices[0].text; finish = c.choices[0].finish_reason ?? finish; }
    assert.equal(text, want);
    assert.equal(finish, "length");
});

test("chat at temperature 0 equals generate --chat (both models)", opts, async () => {
    for (const [model, id, a] of [[STORIES, "stories260K", api], [TINY, "tiny-llama31-random-f16", tinyApi]]) {
        const want = await cliGenerate(model, ["-p", "Tell me a story", "--system", "You are kind.", "--chat", "-n", "24", "--temp", "0"]);
        const messages = [{role: "system", content: "You are kind."}, {role: "user", content: "Tell me a story"}];
        const r = await a.chat.completions.create({model: id, messages, max_tokens: 24, temperature: 0});
        assert.equal(r.object, "chat.completion");
        assert.equal(r.choices[0].message.role, "assistant");
        assert.equal(r.choices[0].message.content, want, id);
        assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
        assert.ok(r.usage.completion_tokens <= 24 && r.usage.prompt_tokens > 5);
    }
});

test("chat stream: role delta first, content deltas, finish chunk, usage chunk, [DONE]", opts, async () => {
    const body = {model: "stories260K", messages: [{role: "user", content: "Hi"}], max_tokens: 12, temperature: 0};
    const full = await api.chat.completions.create(body);
    const res = await fetch(`${stories.url}/v1/chat/completions`, {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({...body, stream: true, stream_options: {include_usage: true}}),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    const events = await sseEvents(res);
    assert.equal(events.at(-1), "[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    for (const c of chunks) {
        assert.equal(c.object, "chat.completion.chunk");
        assert.equal(c.id, chunks[0].id);
        assert.match(c.id, /^chatcmpl-/);
    }
    assert.deepEqual(chunks[0].choices[0].delta, {role: "assistant", content: "", refusal: null});
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.deepEqual(usage.usage, full.usage);
    const finish = chunks.at(-2);
    assert.deepEqual(finish.choices[0].delta, {});
    assert.equal(finish.choices[0].finish_reason, full.choices[0].finish_reason);
    const middle = chunks.slice(1, -2);
    for (const c of middle) { assert.equal(c.usage, null); assert.equal(c.choices[0].finish_reason, null); }
    assert.equal(middle.map((c) => c.choices[0].delta.content).join(""), full.choices[0].message.content);
    // The same through the SDK's stream reader.
    const s = await api.chat.completions.create({...body, stream: true});
    let text = "";
    for await (const c of s) text += c.choices[0]?.delta?.content ?? "";
    assert.equal(text, full.choices[0].message.content);
});

test("stop strings end the text before them, also across token boundaries and in streams", opts, async () => {
    const base = {model: "stories260K", prompt: PROMPT, max_tokens: 60, temperature: 0};
    const full = (await api.completions.create(base)).choices[0].text;
    // A word, and a piece that starts inside one token and ends inside another.
    for (const stop of ["Lily", "e was a lit", ["zzz", "named"]]) {
        const first = Math.min(...[stop].flat().map((s) => full.indexOf(s)).filter((i) => i >= 0));
        assert.ok(Number.isFinite(first), `test text lacks ${stop}: ${full}`);
        const r = await api.completions.create({...base, stop});
        assert.equal(r.choices[0].text, full.slice(0, first));
        assert.equal(r.choices[0].finish_reason, "stop");
        const s = await api.completions.create({...base, stop, stream: true});
        const pieces = [];
        for await (const c of s) pieces.push(c.choices[0].text);
        assert.equal(pieces.join(""), full.slice(0, first));
    }
});

test("max_tokens and max_completion_tokens", opts, async () => {
    const messages = [{role: "user", content: "Tell me a story"}];
    const a = await api.chat.completions.create({model: "stories260K", messages, max_tokens: 3, temperature: 0});
    assert.equal(a.usage.completion_tokens, 3);
    assert.equal(a.choices[0].finish_reason, "length");
    const b = await api.chat.completions.create({model: "stories260K", messages, max_completion_tokens: 7, temperature: 0});
    assert.equal(b.usage.completion_tokens, 7);
});

test("a seed reproduces a sampled reply; other seeds differ", opts, async () => {
    const body = {model: "stories260K", prompt: PROMPT, max_tokens: 30, temperature: 1.0, top_p: 0.95};
    const a = await api.completions.create({...body, seed: 1234});
    const b = await api.completions.create({...body, seed: 1234});
    assert.equal(a.choices[0].text, b.choices[0].text);
    const others = await Promise.all([1, 2, 3].map((seed) => api.completions.create({...body, seed})));
    assert.ok(others.some((o) => o.choices[0].text !== a.choices[0].text));
    // Penalties are accepted and change a greedy reply that repeats itself.
    const plain = await api.completions.create({...body, temperature: 0});
    const pen = await api.completions.create({...body, temperature: 0, frequency_penalty: 2, presence_penalty: 2});
    assert.notEqual(pen.choices[0].text, plain.choices[0].text);
});

test("logprobs: one entry per token, the greedy token most likely, top alternatives sorted", opts, async () => {
    const r = await tinyApi.chat.completions.create({
        model: "tiny-llama31-random-f16", messages: [{role: "user", content: "Hi"}], max_tokens: 6,
        temperature: 0, logprobs: true, top_logprobs: 3,
    });
    const content = r.choices[0].logprobs.content;
    assert.equal(content.length, r.usage.completion_tokens);
    // A chat reply is shown without its leading whitespace (as generate --chat does); the
    // tokens that made it are all listed.
    assert.equal(content.map((t) => t.token).join("").trimStart(), r.choices[0].message.content);
    for (const t of content) {
        assert.ok(t.logprob <= 0);
        assert.equal(t.top_logprobs.length, 3);
        assert.equal(t.top_logprobs[0].token, t.token);
        assert.equal(t.top_logprobs[0].logprob, t.logprob);
        assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob && t.top_logprobs[1].logprob >= t.top_logprobs[2].logprob);
        assert.deepEqual(t.bytes, [...Buffer.from(t.token)]);
    }
    const c = await api.completions.create({model: "stories260K", prompt: PROMPT, max_tokens: 4, temperature: 0, logprobs: 2});
    const lp = c.choices[0].logprobs;
    assert.equal(lp.tokens.length, 4);
    assert.equal(lp.tokens.join(""), c.choices[0].text);
    assert.equal(lp.top_logprobs[0][lp.tokens[0]], lp.token_logprobs[0]);
    assert.deepEqual(lp.text_offset.slice(0, 2), [0, lp.tokens[0].length]);
    // Streamed, the offsets still count from the start of the whole text.
    const s = await api.completions.create({model: "stories260K", prompt: PROMPT, max_tokens: 4, temperature: 0, logprobs: 2, stream: true});
    const offsets = [], toks = [];
    for await (const ch of s) if (ch.choices[0]?.logprobs) { offsets.push(...ch.choices[0].logprobs.text_offset); toks.push(...ch.choices[0].logprobs.tokens); }
    assert.deepEqual(toks, lp.tokens);
    assert.deepEqual(offsets, lp.text_offset);
});

test("unknown model and n > 1 are refused with OpenAI errors", opts, async () => {
    await assert.rejects(api.chat.completions.create({model: "gpt-4o", messages: [{role: "user", content: "x"}]}),
                         (e) => e.status === 400 && e.code === "model_not_found" && e.param === "model");
    await assert.rejects(api.chat.completions.create({model: "stories260K", n: 2, messages: [{role: "user", content: "x"}]}),
                         (e) => e.status === 400 && e.param === "n");
    const r = await post(stories, "/v1/completions", JSON.stringify({model: "stories260K", prompt: ["a", "b"]}));
    assert.equal(r.status, 400);
});
