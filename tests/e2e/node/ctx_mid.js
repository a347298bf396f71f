// A middle service of the context conformance matrix, with no tracing code
// of its own (obs follows it): each request waits 1-15 ms (a database
// call, a timer), then calls the leaf with the same path or message, and
// answers with the leaf's answer.
//
//   node ctx_mid.js http|fetch|body|grpc PORT LEAF  (LEAF: http://..., or HOST:PORT for grpc)
//
// body: reads the request body with 'data'/'end' listeners and calls the
// leaf from 'end' (with CTX_SLOW_BODY=1 in the client, the body arrives
// after the handler ran).
//
// For the fail-open cases: CTX_OWN_SDK=OTLP_URL runs the OpenTelemetry SDK
// in it (service mid-sdk), as an app that traces itself; CTX_PATCH_WRITE=1
// replaces net.Socket.prototype.write first, as some apps and agents do.
'use strict';
const [mode, port, leaf] = process.argv.slice(2);
if (process.env.CTX_OWN_SDK) {
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  require('./otel')('mid-sdk', process.env.CTX_OWN_SDK, [new HttpInstrumentation()]);
}
if (process.env.CTX_PATCH_WRITE === '1') {
  const net = require('net');
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function patchedWrite() { return write.apply(this, arguments); };
}
const wait = () => new Promise((r) => setTimeout(r, 1 + Math.floor(Math.random() * 15)));

if (mode === 'grpc') {
  const grpc = require('@grpc/grpc-js');
  const id = (b) => b;
  const client = new grpc.Client(leaf, grpc.credentials.createInsecure());
  const server = new grpc.Server();
  const unary = {
    path: '/demo.Echo/Unary', requestStream: false, responseStream: false,
    requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id,
  };
  server.addService({ Unary: unary }, {
    Unary: async (call, cb) => {
      await wait();
      client.makeUnaryRequest('/demo.Echo/Unary', id, id, call.request, (err, v) => cb(err, v));
    },
  });
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) throw err;
  });
} else {
  const http = require('http');
  const agent = new http.Agent({ keepAlive: true });
  const get = mode === 'fetch'
    ? async (path) => (await fetch(leaf + path)).text()
    : (path) => new Promise((resolve, reject) => {
      http.get(leaf + path, { agent }, (r) => {
        let b = '';
        r.setEncoding('utf8');
        r.on('data', (d) => { b += d; });
        r.on('end', () => resolve(b));
      }).on('error', reject);
    });
  http.createServer(async (req, res) => {
    if (mode === 'body') {
      // callbacks, no awaits: the downstream call starts in the request
      // body's 'end' listener, an event emitted from a socket read
      let n = 0;
      req.on('data', (d) => { n += d.length; });
      req.on('end', () => {
        get(req.url).then((body) => res.end(body + n), (e) => {
          res.statusCode = 502;
          res.end(String(e));
        });
      });
      return;
    }
    try {
      await wait();
      const body = await get(req.url);
      res.end(body);
    } catch (e) {
      res.statusCode = 502;
      res.end(String(e));
    }
  }).listen(Number(port), '127.0.0.1');
}
