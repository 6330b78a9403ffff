// `serve --lookup` and `serve --draft MODEL` (speculative decoding for API requests), for the
// one-at-a-time service and --parallel 2: greedy replies are the plain server's, streamed or not,
// and usage reports the drafted tokens as OpenAI reports predicted outputs
// (completion_tokens_details.accepted_prediction_tokens / rejected_prediction_tokens), only on a
// server that speculates. A draft with another vocabulary, or --draft with --lookup, is refused
// at start.
import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {execFile} from "node:child_process";
import {promisify} from "node:util";
import {CLI, STORIES, TINY, K256_F32, K256_Q4_0, requirements, startServer, client} from "./helpers.mjs";

const req = await requirements([K256_F32, K256_Q4_0]);
const opts = {skip: req.skip};
let plain, lookup, lookupPar, k256, drafted, draftedPar;

before(async () => {
    if (req.skip) return;
    [plain, lookup, lookupPar, k256, drafted, draftedPar] = await Promise.all([
        startServer(STORIES),
        startServer(STORIES, ["--lookup"]),
        startServer(STORIES, ["--lookup", "--parallel", "2", "--ctx", "512"]),
        startServer(K256_F32, ["--ctx", "512"]),
        startServer(K256_F32, ["--ctx", "512", "--draft", K256_Q4_0, "--draft-max", "4"]),
        startServer(K256_F32, ["--ctx", "512", "--draft", K256_Q4_0, "--parallel", "2"]),
    ]);
});
after(async () => { for (const s of [plain, lookup, lookupPar, k256, drafted, draftedPar]) await s?.stop(); });

// A text that repeats: prompt lookup finds what comes next in it (the engine's scheduler test
// accepts about 3 drafts in 4 here).
const REPEAT = "The cat sat. The dog ran. The cat sat. The dog ran. The cat sat. The dog ran. The cat sat. The dog ran.";
const STORIES_ID = "stories260K", K256_ID = "tiny-llama-k256-f32";

function completion(model, prompt, max_tokens = 60) {
    return {model, prompt, max_tokens, temperature: 0};
}

async function complete(server, body) {
    const r = await client(req.OpenAI, server).completions.create(body);
    return {text: r.choices[0].text, finish: r.choices[0].finish_reason, usage: r.usage};
}

// Streams a chat reply with the usage chunk.
async function chatStream(server, model, content, max_tokens = 40) {
    const s = await client(req.OpenAI, server).chat.completions.create({
        model, messages: [{role: "user", content}], max_tokens, temperature: 0, stream: true,
        stream_options: {include_usage: true}});
    let text = "", usage = null;
    for await (const c of s) {
        if (c.usage) usage = c.usage;
        text += c.choices[0]?.delta?.content ?? "";
    }
    return {text, usage};
}

function assertSpeculated(usage, what) {
    const d = usage.completion_tokens_details;
    assert.ok(d, `${what}: no completion_tokens_details in ${JSON.stringify(usage)}`);
    assert.ok(Number.isInteger(d.accepted_prediction_tokens) && d.accepted_prediction_tokens >= 0, what);
    assert.ok(Number.isInteger(d.rejected_prediction_tokens) && d.rejected_prediction_tokens >= 0, what);
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens, what);
    return d;
}

function assertSameUsage(got, want, what) {
    assert.equal(got.prompt_tokens, want.prompt_tokens, what);
    assert.equal(got.completion_tokens, want.completion_tokens, what);
}

test("--lookup: greedy replies equal the plain server's, with accepted predictions on repeating text", opts, async () => {
    const want = await complete(plain, completion(STORIES_ID, REPEAT));
    assert.equal(want.usage.completion_tokens_details, undefined, "a plain server reports no predictions");
    for (const server of [lookup, lookupPar]) {
        const what = server === lookup ? "--lookup" : "--lookup --parallel 2";
        const got = await complete(server, completion(STORIES_ID, REPEAT));
        assert.equal(got.text, want.text, what);
        assert.equal(got.finish, want.finish, what);
        assertSameUsage(got.usage, want.usage, what);
        const d = assertSpeculated(got.usage, what);
        assert.ok(d.accepted_prediction_tokens > got.usage.completion_tokens / 3,
                  `${what}: ${d.accepted_prediction_tokens} of ${got.usage.completion_tokens} tokens were accepted drafts`);
        assert.ok(d.accepted_prediction_tokens < got.usage.completion_tokens, what);
    }
});

test("--lookup: streamed chat replies are the plain server's, and the usage chunk has the predictions", opts, async () => {
    const content = `Repeat this: ${REPEAT}`;
    const want = await chatStream(plain, STORIES_ID, content);
    assert.equal(want.usage.completion_tokens_details, undefined);
    for (const server of [lookup, lookupPar]) {
        const got = await chatStream(server, STORIES_ID, content);
        assert.equal(got.text, want.text);
        assertSameUsage(got.usage, want.usage, "stream");
        assertSpeculated(got.usage, "stream");
    }
});

test("--lookup --parallel 2: two requests at once, each the plain server's reply", opts, async () => {
    const bodies = [completion(STORIES_ID, REPEAT, 48), completion(STORIES_ID, "Once upon a time", 48)];
    const want = await Promise.all(bodies.map((b) => complete(plain, b)));
    const got = await Promise.all(bodies.map((b) => complete(lookupPar, b)));
    got.forEach((g, i) => {
        assert.equal(g.text, want[i].text, `request ${i}`);
        assertSameUsage(g.usage, want[i].usage, `request ${i}`);
        assertSpeculated(g.usage, `request ${i}`);
    });
});

test("--draft (k256 Q4_0 drafting for k256 f32): the plain server's replies, sequential and --parallel 2", opts, async () => {
    const prompts = ["Once upon a time", "Lily and Tom went to the park. They"];
    const want = await Promise.all(prompts.map((p) => complete(k256, completion(K256_ID, p, 48))));
    for (const server of [drafted, draftedPar]) {
        const what = server === drafted ? "--draft" : "--draft --parallel 2";
        const got = await Promise.all(prompts.map((p) => complete(server, completion(K256_ID, p, 48))));
        let accepted = 0;
        got.forEach((g, i) => {
            assert.equal(g.text, want[i].text, `${what}, prompt ${i}`);
            assertSameUsage(g.usage, want[i].usage, `${what}, prompt ${i}`);
            const d = assertSpeculated(g.usage, `${what}, prompt ${i}`);
            assert.ok(d.accepted_prediction_tokens + d.rejected_prediction_tokens > 0, `${what}: nothing drafted`);
            accepted += d.accepted_prediction_tokens;
        });
        assert.ok(accepted > 0, `${what}: the quantized copy never agreed with the model`);
    }
    const s = await chatStream(drafted, K256_ID, "Tell me a story", 24);
    assert.equal(s.text, (await chatStream(k256, K256_ID, "Tell me a story", 24)).text);
    assertSpeculated(s.usage, "--draft stream");
});

const execFileP = promisify(execFile);
async function serveFails(args) {
    try {
        await execFileP(CLI, ["serve", "--port", "0", "--threads", "1", ...args], {timeout: 20000});
    } catch (e) {
        return {code: e.code, stderr: e.stderr};
    }
    assert.fail(`serve ${args.join(" ")} started`);
}

test("a draft with another vocabulary, or --draft with --lookup, is refused at start", opts, async () => {
    const vocab = await serveFails(["-m", STORIES, "--draft", TINY]);
    assert.notEqual(vocab.code, 0);
    assert.match(vocab.stderr, /error: the draft model .* has a vocabulary of \d+ tokens, the model \d+: a draft must share the model's vocabulary/);
    const both = await serveFails(["-m", STORIES, "--draft", K256_Q4_0, "--lookup"]);
    assert.notEqual(both.code, 0);
    assert.match(both.stderr, /give one of --draft MODEL and --lookup/);
    const alone = await serveFails(["-m", STORIES, "--draft-max", "4"]);
    assert.match(alone.stderr, /--draft-max needs --draft MODEL or --lookup/);
});
