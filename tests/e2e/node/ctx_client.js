// The client of the context conformance matrix (tests/e2e/context.bats): a
// real W3C participant, the official OpenTelemetry Node SDK. Each request
// is a trace of its own (a root CLIENT span, traceparent injected); N of
// them, C at a time, to an HTTP or a gRPC middle.
//
//   node ctx_client.js http://127.0.0.1:PORT|grpc://127.0.0.1:PORT N C SERVICE OTLP_URL
// HTTP requests are GET /req/<SERVICE>-<i>; gRPC calls /demo.Echo/Unary
// with the message "<SERVICE>-<i>". Exits non-zero if a request failed.
// CTX_SLOW_BODY=1 (HTTP): POST, with the body in two parts (see below).
'use strict';
const [target, n, c, service, otlp] = process.argv.slice(2);
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { GrpcInstrumentation } = require('@opentelemetry/instrumentation-grpc');
const provider = require('./otel')(service, otlp,
  [new HttpInstrumentation(), new GrpcInstrumentation()]);
const http = require('http');
const grpc = require('@grpc/grpc-js');

const total = Number(n);
let next = 0;
let failed = 0;

// CTX_SLOW_BODY=1: a POST whose body comes in two parts 1-10 ms apart, so
// the middle's body events come from socket reads after its handler ran.
const slowBody = process.env.CTX_SLOW_BODY === '1';

function httpOne(agent, i) {
  return new Promise((resolve) => {
    const req = http.request(`${target}/req/${service}-${i}`,
      { agent, method: slowBody ? 'POST' : 'GET' }, (res) => {
        res.resume();
        res.on('end', () => { if (res.statusCode !== 200) failed++; resolve(); });
      });
    req.on('error', () => { failed++; resolve(); });
    if (!slowBody) return req.end();
    req.write('first part;');
    setTimeout(() => req.end('second part'), 1 + Math.floor(Math.random() * 10));
  });
}

function grpcOne(client, i) {
  const id = (b) => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest('/demo.Echo/Unary', id, id, Buffer.from(`${service}-${i}`),
      (err) => { if (err) failed++; resolve(); });
  });
}

async function worker(one) {
  while (next < total) await one(next++);
}

(async () => {
  let one;
  if (target.startsWith('grpc://')) {
    const client = new grpc.Client(target.slice(7), grpc.credentials.createInsecure());
    one = (i) => grpcOne(client, i);
  } else {
    const agent = new http.Agent({ keepAlive: true, maxSockets: Number(c) });
    one = (i) => httpOne(agent, i);
  }
  await Promise.all(Array.from({ length: Number(c) }, () => worker(one)));
  await provider.shutdown();
  if (failed) console.error(`${failed} of ${total} requests failed`);
  process.exit(failed ? 1 : 0);
})();
