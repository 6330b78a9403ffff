// Malformed and hostile requests: each gets its status and an OpenAI-shaped error, and the
// server keeps serving (no crash, no hang). Also the access rules: API key, Host header
// (DNS rebinding), CORS, non-loopback binding.
import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import http from "node:http";
import {spawnSync} from "node:child_process";
import {CLI, STORIES, requirements, startServer, post, assertOpenAIError} from "./helpers.mjs";

const req = await requirements();
const opts = {skip: req.skip};
let server, keyed;
const KEY = "sk-test-0123456789";
before(async () => {
    if (req.skip) return;
    [server, keyed] = await Promise.all([
        startServer(STORIES, ["--max-body-mb", "1", "--timeout", "2"]),
        startServer(STORIES, ["--api-key", KEY, "--cors-origin", "http://app.example"]),
    ]);
});
after(async () => { await server?.stop(); await keyed?.stop(); });

const chat = (o) => JSON.stringify({model: "stories260K", messages: [{role: "user", content: "Hi"}], max_tokens: 4, ...o});
const CASES = [
    ["broken JSON", "/v1/chat/completions", '{"model": "stories260K", "messages": [', 400, {param: null}],
    ["trailing garbage", "/v1/chat/completions", chat({}) + "}", 400, {}],
    ["binary garbage", "/v1/chat/completions", Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x7b, 0x22, 0xc3]), 400, {}],
    ["body is an array", "/v1/chat/completions", "[1,2]", 400, {}],
    ["deep nesting", "/v1/chat/completions", "[".repeat(100000), 400, {}],
    ["missing model", "/v1/chat/completions", JSON.stringify({messages: [{role: "user", content: "x"}]}), 400, {param: "model"}],
    ["messages is a string", "/v1/chat/completions", chat({messages: "Hi"}), 400, {param: "messages"}],
    ["empty messages", "/v1/chat/completions", chat({messages: []}), 400, {param: "messages"}],
    ["unknown role", "/v1/chat/completions", chat({messages: [{role: "wizard", content: "x"}]}), 400, {param: "messages[0].role"}],
    ["tool message without tool_call_id", "/v1/chat/completions", chat({messages: [{role: "tool", content: "x"}]}), 400,
     {param: "messages[0].tool_call_id"}],
    ["tool message answering no call", "/v1/chat/completions",
     chat({messages: [{role: "user", content: "x"}, {role: "tool", tool_call_id: "call_1", content: "1"}]}), 400,
     {param: "messages[1].tool_call_id"}],
    ["tool_calls on a user message", "/v1/chat/completions",
     chat({messages: [{role: "user", content: "x", tool_calls: []}]}), 400, {param: "messages[0].tool_calls"}],
    ["function role", "/v1/chat/completions", chat({messages: [{role: "function", content: "x"}]}), 400, {param: "messages[0].role"}],
    ["content is a number", "/v1/chat/completions", chat({messages: [{role: "user", content: 5}]}), 400, {param: "messages[0].content"}],
    ["max_tokens as string", "/v1/chat/completions", chat({max_tokens: "10"}), 400, {param: "max_tokens"}],
    ["max_tokens zero", "/v1/chat/completions", chat({max_tokens: 0}), 400, {param: "max_tokens"}],
    ["huge max_tokens", "/v1/chat/completions", chat({max_tokens: 1000000}), 400, {param: "max_tokens", code: "context_length_exceeded"}],
    ["temperature as string", "/v1/chat/completions", chat({temperature: "hot"}), 400, {param: "temperature"}],
    ["temperature out of range", "/v1/chat/completions", chat({temperature: 7}), 400, {param: "temperature"}],
    ["top_p out of range", "/v1/chat/completions", chat({top_p: 1.5}), 400, {param: "top_p"}],
    ["stop with 5 strings", "/v1/chat/completions", chat({stop: ["a", "b", "c", "d", "e"]}), 400, {param: "stop"}],
    ["stop as number", "/v1/chat/completions", chat({stop: 3}), 400, {param: "stop"}],
    ["stream as string", "/v1/chat/completions", chat({stream: "yes"}), 400, {param: "stream"}],
    ["top_logprobs without logprobs", "/v1/chat/completions", chat({top_logprobs: 2}), 400, {param: "top_logprobs"}],
    ["n = 2", "/v1/chat/completions", chat({n: 2}), 400, {param: "n"}],
    // stories260K has no Llama 3 chat format, so no tool prompt
    ["tools on a model without the Llama 3 format", "/v1/chat/completions",
     chat({tools: [{type: "function", function: {name: "f"}}]}), 400, {param: "tools"}],
    ["tool_choice required", "/v1/chat/completions",
     chat({tools: [{type: "function", function: {name: "f"}}], tool_choice: "required"}), 400,
     {param: "tool_choice", code: "unsupported_value"}],
    ["tool_choice naming a function", "/v1/chat/completions",
     chat({tools: [{type: "function", function: {name: "f"}}], tool_choice: {type: "function", function: {name: "f"}}}), 400,
     {param: "tool_choice", code: "unsupported_value"}],
    ["tool of another type", "/v1/chat/completions", chat({tools: [{type: "code_interpreter"}]}), 400, {param: "tools[0].type"}],
    ["tool parameters not an object", "/v1/chat/completions",
     chat({tools: [{type: "function", function: {name: "f", parameters: 3}}]}), 400, {param: "tools[0].function.parameters"}],
    ["legacy functions", "/v1/chat/completions", chat({functions: [{name: "f"}]}), 400, {param: "functions"}],
    ["unknown model", "/v1/chat/completions", chat({model: "llama-70b"}), 400, {code: "model_not_found"}],
    ["prompt longer than the context", "/v1/completions",
     JSON.stringify({model: "stories260K", prompt: "one two three ".repeat(400), max_tokens: 1}), 400, {code: "context_length_exceeded"}],
    ["prompt of several strings", "/v1/completions", JSON.stringify({model: "stories260K", prompt: ["a", "b"]}), 400, {param: "prompt"}],
    ["prompt token out of vocabulary", "/v1/completions", JSON.stringify({model: "stories260K", prompt: [1, 99999]}), 400, {param: "prompt"}],
    ["logprobs 6 on completions", "/v1/completions", JSON.stringify({model: "stories260K", prompt: "a", logprobs: 6}), 400, {param: "logprobs"}],
    ["body over --max-body-mb", "/v1/chat/completions", chat({messages: [{role: "user", content: "x".repeat(2 << 20)}]}), 413, {}],
    ["unknown endpoint", "/v1/embeddings", "{}", 404, {}],
    // curl -d's default content type: httplib parses such bodies as a form, up to 8 KiB
    ["large form-encoded body", "/v1/chat/completions", chat({messages: [{role: "user", content: "x".repeat(20000)}]}), 413, {},
     {"Content-Type": "application/x-www-form-urlencoded"}],
];

for (const [name, path, body, status, fields, headers = {}] of CASES) {
    test(`bad input: ${name} -> ${status}`, opts, async () => {
        const r = await post(server, path, body, headers);
        assertOpenAIError(r, status, fields);
    });
}

test("the server still serves after the bad inputs", opts, async () => {
    const r = await post(server, "/v1/chat/completions", chat({}));
    assert.equal(r.status, 200);
    assert.equal(r.json.usage.completion_tokens <= 4, true);
});

// A client that stops half-way through its headers or its body holds one connection only
// until the read timeout (--timeout 2 here), and others are served meanwhile. (httplib's
// timeout is per read: a client that dribbles a byte more often than that keeps its
// connection until the 8 KiB header limit; the spare threads keep the server answering.)
test("a slow-loris client is dropped after --timeout and blocks nobody meanwhile", opts, async () => {
    const open = async (text) => {
        const sock = net.connect(server.port, "127.0.0.1");
        await new Promise((r) => sock.once("connect", r));
        sock.write(text);
        let reply = "";
        sock.on("data", (d) => reply += d);
        return {sock, reply: () => reply, closed: new Promise((r) => sock.once("close", r))};
    };
    const t0 = performance.now();
    const slow = await Promise.all([
        open(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Le`),
        open(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Length: 100\r\n\r\n{"mo`),
    ]);
    try {
        const h = await fetch(`${server.url}/health`);
        assert.equal(h.status, 200);
        const r = await post(server, "/v1/chat/completions", chat({}));
        assert.equal(r.status, 200);
        const timeout = new Promise((_, rej) => setTimeout(() => rej(new Error("slow clients not dropped in 10 s")), 10000));
        await Promise.race([Promise.all(slow.map((s) => s.closed)), timeout]);
        assert.ok(performance.now() - t0 >= 1500, "dropped before the timeout");
        for (const s of slow) {
            assert.match(s.reply(), /^HTTP\/1\.1 400 /);
            assert.match(s.reply(), /"error":\{"message":"the request could not be read/);
        }
    } finally {
        for (const s of slow) s.sock.destroy();
    }
});

test("API key: missing and wrong keys get 401, the right one works, /health needs none", opts, async () => {
    assertOpenAIError(await post(keyed, "/v1/chat/completions", chat({})), 401, {code: "invalid_api_key"});
    assertOpenAIError(await post(keyed, "/v1/chat/completions", chat({}), {Authorization: "Bearer sk-wrong"}), 401, {code: "invalid_api_key"});
    const models = await fetch(`${keyed.url}/v1/models`);
    assert.equal(models.status, 401);
    const ok = await post(keyed, "/v1/chat/completions", chat({}), {Authorization: `Bearer ${KEY}`});
    assert.equal(ok.status, 200);
    assert.equal((await fetch(`${keyed.url}/health`)).status, 200);
    const api = new req.OpenAI({baseURL: `${keyed.url}/v1`, apiKey: "sk-nope", maxRetries: 0});
    await assert.rejects(api.models.list(), (e) => e.status === 401);
});

function rawGet(port, headers) {
    return new Promise((resolve, reject) => {
        const r = http.request({host: "127.0.0.1", port, path: "/v1/models", headers}, (res) => {
            let body = "";
            res.on("data", (d) => body += d);
            res.on("end", () => resolve({status: res.statusCode, headers: res.headers, body}));
        });
        r.on("error", reject);
        r.end();
    });
}

test("a loopback server answers only requests addressed to a loopback name (DNS rebinding)", opts, async () => {
    const bad = await rawGet(server.port, {Host: `evil.example:${server.port}`});
    assert.equal(bad.status, 403);
    assert.equal(JSON.parse(bad.body).error.code, "invalid_host");
    assert.equal((await rawGet(server.port, {Host: `localhost:${server.port}`})).status, 200);
    assert.equal((await rawGet(server.port, {Host: `[::1]:${server.port}`})).status, 200);
    assert.equal((await rawGet(server.port, {Host: `127.0.0.1:${server.port + 1}`})).status, 403);
});

test("CORS: off by default, on for --cors-origin origins only", opts, async () => {
    const none = await rawGet(server.port, {Host: `localhost:${server.port}`, Origin: "http://app.example"});
    assert.equal(none.headers["access-control-allow-origin"], undefined);
    const auth = {Authorization: `Bearer ${KEY}`, Host: `localhost:${keyed.port}`};
    const yes = await rawGet(keyed.port, {...auth, Origin: "http://app.example"});
    assert.equal(yes.headers["access-control-allow-origin"], "http://app.example");
    const other = await rawGet(keyed.port, {...auth, Origin: "http://evil.example"});
    assert.equal(other.headers["access-control-allow-origin"], undefined);
    const pre = await fetch(`${keyed.url}/v1/chat/completions`, {
        method: "OPTIONS", headers: {Origin: "http://app.example", "Access-Control-Request-Method": "POST"},
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "http://app.example");
    assert.match(pre.headers.get("access-control-allow-headers"), /Authorization/);
});

test("binding beyond loopback needs a key or --no-api-key-i-know", opts, () => {
    const r = spawnSync(CLI, ["serve", "-m", STORIES, "--host", "0.0.0.0", "--port", "0"], {encoding: "utf8"});
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--api-key/);
});
