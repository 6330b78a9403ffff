#!/usr/bin/env node
// A small MCP server over stdio for the client tests, well-behaved or misbehaving on purpose.
// Usage: node fake_server.js MODE, where MODE is
//   good            paginated tools (2 per page), list_changed before the initialize reply, asks
//                   the client for sampling and roots and pings it, writes 64 KiB of stderr noise
//   old-version     answers initialize with protocol 2024-11-05
//   future-version  answers initialize with protocol 2099-01-01
//   silent          never answers anything
//   invalid-json    answers tools/list with a line that is not JSON
//   bad-rpc         answers tools/list with "jsonrpc": "1.0"
//   huge            answers tools/list with a 4 MiB line
//   crash           starts a `sleep` child (same process group), exits with code 3 on any tools/call
//   ignore-term     starts a `sleep` child, ignores SIGTERM and the end of stdin
//   churn           says tools/list_changed before and after every tools/list answer
//   loud            echo answers with its text 2,000 times over (a result larger than a context)
// What it receives from the client is logged to stderr for the tests to check.
'use strict';
const { spawn } = require('child_process');
const readline = require('readline');

const mode = process.argv[2] || 'good';
const log = (s) => process.stderr.write(s + '\n');
const send = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const schema = { type: 'object', properties: { text: { type: 'string' } } };
const tools = [
  { name: 'echo', description: 'Echoes text', inputSchema: schema },
  { name: 'slow', description: 'Never answers', inputSchema: { type: 'object' } },
  { name: 'grow', description: 'Adds a tool and says the list changed', inputSchema: { type: 'object' } },
  { name: 'progress', description: 'Sends progress, then answers', inputSchema: { type: 'object' } },
];

if (mode === 'crash' || mode === 'ignore-term') {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  log('child ' + child.pid);
}
if (mode === 'ignore-term') {
  process.on('SIGTERM', () => log('ignoring SIGTERM'));
  setInterval(() => {}, 1000);
}

function onRequest(m) {
  switch (m.method) {
    case 'initialize': {
      if (mode === 'good') for (let i = 0; i < 64; i++) log('noise ' + i + ' ' + 'n'.repeat(1000));
      log('client offered ' + m.params.protocolVersion + ' capabilities ' + JSON.stringify(m.params.capabilities));
      if (mode === 'silent') return;
      if (mode === 'good') send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
      const version = mode === 'old-version' ? '2024-11-05'
        : mode === 'future-version' ? '2099-01-01' : m.params.protocolVersion;
      send({ jsonrpc: '2.0', id: m.id, result: {
        protocolVersion: version, capabilities: { tools: { listChanged: true } },
        serverInfo: { name: 'fake', version: '1.0' } } });
      return;
    }
    case 'tools/list': {
      log('tools/list ' + JSON.stringify(m.params || {}));
      if (mode === 'invalid-json') return process.stdout.write('this is not JSON\n');
      if (mode === 'bad-rpc') return send({ jsonrpc: '1.0', id: m.id, result: { tools: [] } });
      if (mode === 'huge') {
        return process.stdout.write('{"jsonrpc":"2.0","id":' + m.id + ',"result":{"tools":[],"pad":"' +
                                    'x'.repeat(4 << 20) + '"}}\n');
      }
      if (mode === 'churn') {
        send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
        setTimeout(() => send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }), 1);
      }
      const start = m.params && m.params.cursor ? parseInt(m.params.cursor.slice(5), 10) : 0;
      const result = { tools: tools.slice(start, start + 2) };
      if (start + 2 < tools.length) result.nextCursor = 'page-' + (start + 2);
      return send({ jsonrpc: '2.0', id: m.id, result });
    }
    case 'tools/call': {
      const name = m.params.name;
      log('call ' + m.id + ' ' + name);
      if (mode === 'crash') {
        log('crashing mid-call');
        process.exit(3);
      }
      const text = (t) => send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: t }] } });
      if (name === 'echo') {
        const said = (m.params.arguments || {}).text;
        return text('echo: ' + (mode === 'loud' ? (said + ' ').repeat(2000) : said));
      }
      if (name === 'slow') return;  // never answers: the client must time out and cancel
      if (name === 'grow') {
        tools.push({ name: 'added' + tools.length, description: 'Added by grow', inputSchema: { type: 'object' } });
        text('grown');
        return send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
      }
      if (name === 'progress') {
        for (let i = 1; i <= 3; i++) {
          send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p', progress: i, total: 3 } });
        }
        return text('done');
      }
      return send({ jsonrpc: '2.0', id: m.id, error: { code: -32602, message: 'Unknown tool: ' + name } });
    }
    case 'ping':
      return send({ jsonrpc: '2.0', id: m.id, result: {} });
    default:
      return send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
  }
}

function onNotification(m) {
  if (m.method === 'notifications/initialized') {
    log('initialized');
    if (mode === 'good') {
      send({ jsonrpc: '2.0', id: 's1', method: 'sampling/createMessage', params: { messages: [], maxTokens: 1 } });
      send({ jsonrpc: '2.0', id: 's2', method: 'roots/list' });
      send({ jsonrpc: '2.0', id: 'p1', method: 'ping' });
    }
  } else if (m.method === 'notifications/cancelled') {
    log('cancelled ' + m.params.requestId + ': ' + m.params.reason);
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let m;
  try {
    m = JSON.parse(line);
  } catch (e) {
    return log('client sent invalid JSON');
  }
  if (m.method !== undefined && m.id !== undefined) onRequest(m);
  else if (m.method !== undefined) onNotification(m);
  else log('client answered ' + m.id + ': ' + JSON.stringify(m.error || m.result));
});
rl.on('close', () => {
  log('stdin closed');
  if (mode !== 'ignore-term') process.exit(0);
});
