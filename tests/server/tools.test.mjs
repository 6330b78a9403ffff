// Tool calling on /v1/chat/completions through the official openai client, on the tiny Llama 3.1
// model (random weights: it writes no tool call, so the reply is text). The request side is real:
// tools in, assistant tool_calls and tool results in the history, the prompt the same formatter
// renders (its byte-for-byte checks are test_api_tools and test_tool_format); the calls-out side
// is covered by test_api_tools on scripted reply texts.
import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {TINY, requirements, startServer, client, post} from "./helpers.mjs";

const req = await requirements();
const opts = {skip: req.skip};
let tiny, api;

before(async () => {
    if (req.skip) return;
    tiny = await startServer(TINY, ["--ctx", "2048"]);
    api = client(req.OpenAI, tiny);
});
after(async () => { await tiny?.stop(); });

const MODEL = "tiny-llama31-random-f16";
const TOOLS = [{
    type: "function",
    function: {
        name: "get_sum",
        description: "Adds two numbers",
        parameters: {type: "object", properties: {a: {type: "number"}, b: {type: "number"}}, required: ["a", "b"]},
    },
}];

test("a request with tools gets a normal reply (200) when the model writes no call", opts, async () => {
    const messages = [{role: "user", content: "What is 2 + 3?"}];
    const r = await api.chat.completions.create({model: MODEL, messages, tools: TOOLS, tool_choice: "auto",
                                                 max_tokens: 32, temperature: 0});
    assert.equal(r.object, "chat.completion");
    const c = r.choices[0];
    assert.equal(c.message.role, "assistant");
    assert.equal(typeof c.message.content, "string");
    assert.ok(c.message.content.length > 0);
    assert.equal(c.message.tool_calls, undefined);
    assert.equal(c.finish_reason, "length");
    // The tool list is in the prompt: the same request without tools has a much shorter prompt.
    const plain = await api.chat.completions.create({model: MODEL, messages, max_tokens: 1, temperature: 0});
    assert.ok(r.usage.prompt_tokens > plain.usage.prompt_tokens + 40, `${r.usage.prompt_tokens} vs ${plain.usage.prompt_tokens}`);
    // tool_choice "none": the tools are not offered (no tool list, no ipython environment).
    const none = await api.chat.completions.create({model: MODEL, messages, tools: TOOLS, tool_choice: "none",
                                                    max_tokens: 1, temperature: 0});
    assert.ok(none.usage.prompt_tokens < r.usage.prompt_tokens);
});

test("streaming with tools: text deltas, then the finish", opts, async () => {
    const stream = await api.chat.completions.create({model: MODEL, messages: [{role: "user", content: "Hi"}], tools: TOOLS,
                                                      max_tokens: 32, temperature: 0, stream: true});
    let text = "", finish = null, calls = 0;
    for await (const c of stream) {
        text += c.choices[0]?.delta?.content ?? "";
        if (c.choices[0]?.delta?.tool_calls) calls++;
        finish = c.choices[0]?.finish_reason ?? finish;
    }
    const whole = await api.chat.completions.create({model: MODEL, messages: [{role: "user", content: "Hi"}], tools: TOOLS,
                                                     max_tokens: 32, temperature: 0});
    assert.equal(text, whole.choices[0].message.content);
    assert.equal(calls, 0);
    assert.equal(finish, "length");
});

test("assistant tool_calls and tool results in the history", opts, async () => {
    const messages = [
        {role: "user", content: "What is 2 + 3?"},
        {role: "assistant", content: null,
         tool_calls: [{id: "call_abc", type: "function", function: {name: "get_sum", arguments: "{\"a\": 2, \"b\": 3}"}}]},
        {role: "tool", tool_call_id: "call_abc", content: "5"},
    ];
    const r = await api.chat.completions.create({model: MODEL, messages, tools: TOOLS, max_tokens: 8, temperature: 0});
    assert.equal(typeof r.choices[0].message.content, "string");
    // Arguments that are not a JSON object are refused with the parameter named.
    const bad = await post(tiny, "/v1/chat/completions", JSON.stringify({
        model: MODEL, max_tokens: 4,
        messages: [messages[0], {role: "assistant", tool_calls: [{id: "c1", type: "function", function: {name: "get_sum", arguments: "[1]"}}]}],
    }));
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, "messages[1].tool_calls[0].function.arguments");
});

test("tool_choice required is refused by the openai client's request", opts, async () => {
    await assert.rejects(
        api.chat.completions.create({model: MODEL, messages: [{role: "user", content: "x"}], tools: TOOLS, tool_choice: "required"}),
        (e) => e.status === 400 && /required/.test(e.message));
});
