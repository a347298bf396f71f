// A Node service instrumented with the official OpenTelemetry Node SDK
// (sdk-trace-node + instrumentation-http), exporting OTLP/HTTP protobuf to
// the test receiver: the real W3C participant at the end of the chain.
//
//   node service.js PORT OTLP_URL
'use strict';
const [port, otlp] = process.argv.slice(2);
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
require('./otel')('node-sdk', otlp, [new HttpInstrumentation()]);

const http = require('http');
http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('node ok traceparent=' + (req.headers.traceparent || '') + '\n');
}).listen(Number(port), '127.0.0.1');
