#!/usr/bin/env node
// A small MCP Streamable HTTP server for the client tests, written against the transport's
// details rather than an SDK. Usage: node fake_http_server.js MODE; prints "port N" on stdout
// once it listens on 127.0.0.1, and logs every request it gets to stderr
// ("POST <method> session=<id> version=<v> auth=<a>", "GET ...", "DELETE ...").
//   json      answers every request with one JSON body (no event streams); GET: 405
//   sse       answers with event streams written with CRLF, comments, a priming event without
//             data, a data field split over two lines, and a ping request before the answer
//   expire    like json, but tools/call answers 404 (the session is gone)
//   huge      tools/list answers with a 4 MiB event
'use strict';
const http = require('http');

const mode = process.argv[2] || 'json';
const SESSION = 'session-1234';
const log = (s) => process.stderr.write(s + '\n');
const tools = [{ name: 'echo', description: 'Echoes text', inputSchema: { type: 'object' } }];

function result(m) {
  switch (m.method) {
    case 'initialize':
      return { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} },
               serverInfo: { name: 'fake-http', version: '1.0' } };
    case 'tools/list':
      return { tools };
    case 'tools/call':
      return { content: [{ type: 'text', text: 'echo: ' + ((m.params.arguments || {}).text || '') }] };
    default:
      return null;
  }
}

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const h = req.headers;
    const tail = ' session=' + (h['mcp-session-id'] || '-') + ' version=' + (h['mcp-protocol-version'] || '-') +
                 ' auth=' + (h.authorization || '-');
    if (req.method !== 'POST') {
      log(req.method + tail);
      res.writeHead(req.method === 'DELETE' ? 200 : 405).end();
      return;
    }
    let m;
    try { m = JSON.parse(body); } catch (e) { res.writeHead(400).end('bad json'); return; }
    log('POST ' + (m.method || ('answer ' + m.id + ' ' + JSON.stringify(m.result || m.error))) + tail);
    if (m.id === undefined || m.method === undefined) {  // a notification or an answer
      res.writeHead(202).end();
      return;
    }
    if (mode === 'expire' && m.method === 'tools/call') {
      res.writeHead(404).end('no such session');
      return;
    }
    const answer = { jsonrpc: '2.0', id: m.id, result: result(m) };
    if (answer.result === null) {
      delete answer.result;
      answer.error = { code: -32601, message: 'Method not found' };
    }
    const headers = m.method === 'initialize' ? { 'Mcp-Session-Id': SESSION } : {};
    if (mode === 'json' || mode === 'expire') {
      res.writeHead(200, Object.assign({ 'Content-Type': 'application/json' }, headers));
      res.end(JSON.stringify(answer));
      return;
    }
    res.writeHead(200, Object.assign({ 'Content-Type': 'text/event-stream' }, headers));
    if (mode === 'huge' && m.method === 'tools/list') {
      res.end('data: {"jsonrpc":"2.0","id":' + m.id + ',"result":{"tools":[],"pad":"' + 'x'.repeat(4 << 20) + '"}}\r\n\r\n');
      return;
    }
    res.write(': a comment\r\nid: 1\r\n\r\n');  // priming event: an id, no data
    if (m.method === 'tools/call') res.write('event: message\r\ndata: {"jsonrpc":"2.0","id":"srv-1","method":"ping"}\r\n\r\n');
    // One data field over two lines (after the first comma, which is between members): the
    // event's data is the lines joined with "\n", still the same JSON.
    const text = JSON.stringify(answer);
    const at = text.indexOf(',') + 1;
    res.end('id: 2\r\ndata: ' + text.slice(0, at) + '\r\ndata: ' + text.slice(at) + '\r\n\r\n');
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\n'));
