// `serve --db`: API chats saved in the history database like the app's chats. A client sends the
// whole conversation with each turn; the turns that continue an earlier request's turns and reply
// go on in its conversation, a new first message starts another one. Read back with
// `llamadesk-cli history`. An engine-only build refuses --db with a clear message.
import {test, after} from "node:test";
import assert from "node:assert/strict";
import {execFile, spawn} from "node:child_process";
import {mkdtempSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {promisify} from "node:util";
import {CLI, STORIES, requirements, startServer, client} from "./helpers.mjs";

const run = promisify(execFile);
const req = await requirements();
const dir = mkdtempSync(join(tmpdir(), "ld-serve-db-"));
after(() => rmSync(dir, {recursive: true, force: true}));

// Whether this llamadesk-cli has the history (Qt) commands.
async function hasHistory() {
    try {
        await run(CLI, ["history", "--db", join(dir, "probe.db"), "list"]);
        return true;
    } catch (e) {
        if (/without Qt/.test(e.stderr ?? "")) return false;
        throw e;
    }
}
const withQt = req.skip ? false : await hasHistory();
const history = async (db, ...args) => JSON.parse((await run(CLI, ["history", "--db", db, ...args])).stdout);
const MODEL = "stories260K";

test("serve --db saves each API chat as a conversation, turn after turn", {skip: req.skip || (!withQt && "engine-only build: no history")}, async () => {
    const db = join(dir, "chats.db");
    const server = await startServer(STORIES, ["--db", db]);
    let a1, a2, a3;
    const first = [{role: "system", content: "You tell short stories."}, {role: "user", content: "Once upon a time"}];
    try {
        assert.match(server.stderr(), /saving chats in /);
        const api = client(req.OpenAI, server);
        const r1 = await api.chat.completions.create({model: MODEL, messages: first, max_tokens: 12, temperature: 0});
        a1 = r1.choices[0].message.content;
        // The next turn, streamed: the client sends the first turn and its reply again.
        const second = [...first, {role: "assistant", content: a1}, {role: "user", content: "What happened next?"}];
        const stream = await api.chat.completions.create({model: MODEL, messages: second, max_tokens: 12, temperature: 0, stream: true});
        a2 = "";
        for await (const c of stream) a2 += c.choices[0]?.delta?.content ?? "";
        // Another chat.
        const r3 = await api.chat.completions.create(
            {model: MODEL, messages: [{role: "user", content: "Tell me about a cat"}], max_tokens: 6, temperature: 0});
        a3 = r3.choices[0].message.content;
    } finally {
        await server.stop();  // the database thread finishes its writes before the process exits
    }
    assert.ok(a1.length > 0 && a2.length > 0 && a3.length > 0);

    const list = await history(db, "list");
    assert.equal(list.length, 2, JSON.stringify(list));
    const story = list.find((c) => c.system_prompt === "You tell short stories.");
    const cat = list.find((c) => c.system_prompt === "");
    assert.ok(story && cat, JSON.stringify(list));
    assert.equal(story.model, MODEL);
    assert.equal(story.title, "Once upon a time");

    const shown = await history(db, "show", String(story.id));
    const turns = shown.messages.map((m) => [m.role, m.content, m.status]);
    assert.deepEqual(turns, [
        ["user", "Once upon a time", "complete"],
        ["assistant", a1, "complete"],
        ["user", "What happened next?", "complete"],
        ["assistant", a2, "complete"],
    ]);
    // One branch, each message under the one before; replies carry the model and their counts.
    for (let i = 1; i < shown.messages.length; ++i) assert.equal(shown.messages[i].parent, shown.messages[i - 1].id);
    assert.equal(shown.current_leaf, shown.messages[3].id);
    assert.equal(shown.messages[1].model, MODEL);
    assert.equal(shown.messages[3].stats.gen_tokens, 12);
    assert.ok(shown.messages[3].stats.prompt_tokens > shown.messages[1].stats.prompt_tokens);

    const other = await history(db, "show", String(cat.id));
    assert.deepEqual(other.messages.map((m) => [m.role, m.content]), [["user", "Tell me about a cat"], ["assistant", a3]]);
});

test("a request that repeats earlier turns (a regeneration) branches in the same conversation", {skip: req.skip || (!withQt && "engine-only build: no history")}, async () => {
    const db = join(dir, "branches.db");
    const server = await startServer(STORIES, ["--db", db]);
    const messages = [{role: "user", content: "Once upon a time"}];
    try {
        const api = client(req.OpenAI, server);
        await api.chat.completions.create({model: MODEL, messages, max_tokens: 8, temperature: 0});
        await api.chat.completions.create({model: MODEL, messages, max_tokens: 4, temperature: 0});
    } finally {
        await server.stop();
    }
    const list = await history(db, "list");
    assert.equal(list.length, 1);
    const shown = await history(db, "show", String(list[0].id));
    assert.deepEqual(shown.messages.map((m) => m.role), ["user", "assistant", "assistant"]);
    assert.equal(shown.messages[1].parent, shown.messages[0].id);
    assert.equal(shown.messages[2].parent, shown.messages[0].id);  // a sibling: the regenerated reply
    assert.equal(shown.current_leaf, shown.messages[2].id);
});

// Only an engine-only build has this case (a skipped case would mark the whole file skipped).
if (!withQt) test("an engine-only build refuses serve --db with a clear message", {skip: req.skip}, async () => {
    const proc = spawn(CLI, ["serve", "-m", STORIES, "--port", "0", "--db", join(dir, "x.db")], {stdio: ["ignore", "ignore", "pipe"]});
    let err = "";
    proc.stderr.on("data", (d) => { err += d; });
    const code = await new Promise((r) => proc.once("exit", r));
    assert.notEqual(code, 0);
    assert.match(err, /built without Qt.*serve --db/);
});
