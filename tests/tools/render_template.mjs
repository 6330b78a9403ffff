// Renders chat templates with @huggingface/jinja, the reference for the engine's tool prompts
// (tests/engine/test_tool_prompt.cpp). Test-time only.
//
//   node render_template.mjs NPM_DIR REQUEST.json
//
// NPM_DIR holds node_modules/@huggingface/jinja, installed with `npm ci` from this folder's
// package.json and package-lock.json (scripts/test.sh puts it in build/tools-npm). REQUEST is
// {"cases": [{"name": ..., "template": PATH, "context": {...}}]}; the output is one JSON object,
// {NAME: rendered text} or {NAME: {"error": message}} where the template raised an error.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const [npmDir, requestPath] = process.argv.slice(2);
if (!npmDir || !requestPath) {
  console.error("usage: node render_template.mjs NPM_DIR REQUEST.json");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(npmDir), "package.json"));
const { Template } = require("@huggingface/jinja");

// @huggingface/jinja 0.5.13 has no `format` filter, which the Llama 3.2 template uses to print a
// tool call's argument values ("%s" | format(value)). For a string or a number, "%s" gives what
// printing the value itself gives, so that is what this uses; the tests keep to such values.
// The substitution must happen exactly once, so that a changed template is noticed.
function adapt(source) {
  const pattern = '"%s" | format(tool_call.arguments[param])';
  const parts = source.split(pattern);
  if (parts.length === 1) return source;
  if (parts.length !== 2) throw new Error(`expected one ${pattern} in the template, found ${parts.length - 1}`);
  return parts.join("tool_call.arguments[param]");
}

const request = JSON.parse(readFileSync(requestPath, "utf8"));
const templates = new Map();
const out = {};
for (const c of request.cases) {
  if (!templates.has(c.template)) templates.set(c.template, new Template(adapt(readFileSync(c.template, "utf8"))));
  try {
    out[c.name] = templates.get(c.template).render(c.context);
  } catch (e) {
    out[c.name] = { error: String(e.message ?? e) };
  }
}
process.stdout.write(JSON.stringify(out));
