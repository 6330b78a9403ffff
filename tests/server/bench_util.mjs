// Starting a server for the benchmark script (helpers.mjs needs the test environment).
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
