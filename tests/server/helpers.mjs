// Shared pieces of the API server tests: where things are, starting `llamadesk-cli serve`,
// running the CLI for reference outputs, and the openai client (installed by `npm ci` from
// tests/server/package-lock.json into LLAMADESK_SERVER_TEST_DIR, test-time only).
import {spawn, execFile} from "node:child_process";
import {existsSync} from "node:fs";
import {createRequire} from "node:module";
import {pathToFileURL} from "node:url";
import {promisify} from "node:util";

export const CLI = process.env.LLAMADESK_CLI;
export const SHARED = process.env.LLAMADESK_SHARED_DIR;
export const STORIES = `${SHARED}/models/stories260K.gguf`;
export const TINY = `${SHARED}/models/tiny-llama31-random-f16.gguf`;
// A model and its Q4_0 copy, the pair the engine's speculation tests draft with.
export const K256_F32 = `${SHARED}/models/k256/tiny-llama-k256-f32.gguf`;
export const K256_Q4_0 = `${SHARED}/models/k256/tiny-llama-k256-Q4_0-pure.gguf`;
const IN_CI = ["true", "TRUE", "1"].includes(process.env.CI ?? "");

// Missing test data or npm peer: skip with the reason locally, fail in CI where both must exist.
// `models`: further model files the test needs.
export async function requirements(models = []) {
    const missing = [];
    if (!CLI || !existsSync(CLI)) missing.push(`llamadesk-cli (LLAMADESK_CLI=${CLI})`);
    for (const m of [STORIES, TINY, ...models]) if (!existsSync(m)) missing.push(m);
    let OpenAI = null;
    const dir = process.env.LLAMADESK_SERVER_TEST_DIR;
    try {
        const require = createRequire(`${dir}/package.json`);
        const mod = await import(pathToFileURL(require.resolve("openai")).href);
        OpenAI = mod.OpenAI ?? mod.default?.OpenAI ?? mod.default;
    } catch {
        missing.push(`the openai npm package in ${dir} (scripts/test.sh runs npm ci there)`);
    }
    if (missing.length && IN_CI) throw new Error(`CI=true but missing: ${missing.join(", ")}`);
    return {skip: missing.length ? `missing ${missing.join(", ")}` : false, OpenAI};
}

// Starts `llamadesk-cli serve --port 0 ...` and resolves once it prints its address.
export function startServer(model, extra = []) {
    return new Promise((resolve, reject) => {
        const proc = spawn(CLI, ["serve", "-m", model, "--port", "0", "--threads", "2", ...extra],
                           {stdio: ["ignore", "ignore", "pipe"]});
        let err = "";
        // A server that dies mid-test says so (with its stderr) instead of leaving only the
        // clients' "Connection error." to go by.
        proc.once("exit", (code, signal) => {
            proc.exitedWith = `exit code ${code}, signal ${signal}`;
            if (proc.started && !proc.stopping)
                process.stderr.write(`llamadesk-cli serve ${extra.join(" ")} ended unexpectedly (${proc.exitedWith}); its stderr:\n${err}\n`);
        });
        const timer = setTimeout(() => { proc.kill(); reject(new Error(`serve did not start:\n${err}`)); }, 20000);
        proc.stderr.on("data", (d) => {
            err += d;
            const m = /listening on (http:\/\/[^\s]+):(\d+)/.exec(err);
            if (m && !proc.started) {
                proc.started = true;
                clearTimeout(timer);
                const port = Number(m[2]);
                resolve({
                    proc, port, url: `http://127.0.0.1:${port}`, stderr: () => err,
                    stop: () => new Promise((r) => {
                        proc.stopping = true;
                        if (proc.exitCode !== null || proc.signalCode !== null) return r();
                        proc.once("exit", r);
                        proc.kill("SIGTERM");
                    }),
                });
            }
        });
        proc.once("exit", (code) => { clearTimeout(timer); if (!proc.started) reject(new Error(`serve exited ${code}:\n${err}`)); });
    });
}

const execFileP = promisify(execFile);
// `llamadesk-cli generate ...` stdout, without the newline it prints at the end.
export async function cliGenerate(model, args) {
    const {stdout} = await execFileP(CLI, ["generate", "-m", model, "--threads", "2", ...args], {maxBuffer: 1 << 24});
    return stdout.replace(/\n$/, "");
}

// maxRetries 0: a request the server fails is seen, not retried away. A request that cannot
// reach the server prints why (the socket error under the client's "Connection error.", and
// whether the server process is still running) before the client throws.
export function client(OpenAI, server, apiKey = "none") {
    const diagnosed = async (url, init) => {
        try {
            return await fetch(url, init);
        } catch (e) {
            if (e?.name !== "AbortError") {
                const state = server.proc?.exitedWith ?? "still running";
                process.stderr.write(`request to ${url} failed: ${e} (cause: ${e?.cause?.code ?? ""} ${e?.cause?.message ?? e?.cause ?? ""}); server ${state}\n`);
            }
            throw e;
        }
    };
    return new OpenAI({baseURL: `${server.url}/v1`, apiKey, maxRetries: 0, timeout: 30000, fetch: diagnosed});
}

// POST raw bytes, returns {status, headers, json, text}.
export async function post(server, path, body, headers = {}) {
    const res = await fetch(`${server.url}${path}`, {
        method: "POST", headers: {"Content-Type": "application/json", ...headers}, body,
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return {status: res.status, headers: res.headers, json, text};
}

// Reads an SSE response into its data payloads (comments dropped), as OpenAI clients do.
export async function sseEvents(res) {
    const text = await res.text();
    return text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
}

export function assertOpenAIError(r, status, extra = {}) {
    if (r.status !== status) throw new Error(`expected HTTP ${status}, got ${r.status}: ${r.text}`);
    const e = r.json?.error;
    if (!e || typeof e.message !== "string" || !e.message || typeof e.type !== "string" ||
        !("param" in e) || !("code" in e))
        throw new Error(`not an OpenAI error object: ${r.text}`);
    for (const [k, v] of Object.entries(extra))
        if (e[k] !== v) throw new Error(`error.${k} is ${JSON.stringify(e[k])}, expected ${JSON.stringify(v)}: ${r.text}`);
}
