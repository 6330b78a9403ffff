// A port another server is listening on is refused, not shared: cpp-httplib's default socket
// options (SO_REUSEPORT) would let a second `serve` bind it and take half of its connections.
import {test, after} from "node:test";
import assert from "node:assert/strict";
import {spawn} from "node:child_process";
import {CLI, STORIES, requirements, startServer} from "./helpers.mjs";

const req = await requirements();
const servers = [];
after(async () => { for (const s of servers) await s.stop(); });

test("a second serve on a port in use fails and says so", {skip: req.skip}, async () => {
    const first = await startServer(STORIES);
    servers.push(first);
    const proc = spawn(CLI, ["serve", "-m", STORIES, "--port", String(first.port), "--threads", "2"],
                       {stdio: ["ignore", "ignore", "pipe"]});
    let err = "";
    proc.stderr.on("data", (d) => { err += d; });
    const timer = setTimeout(() => proc.kill("SIGTERM"), 20000);
    const code = await new Promise((r) => proc.once("exit", r));
    clearTimeout(timer);
    assert.notEqual(code, 0, `the second server started:\n${err}`);
    assert.match(err, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port} \\(in use`));
    assert.doesNotMatch(err, /listening on/);
});
