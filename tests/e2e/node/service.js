// A Node service instrumented with the official OpenTelemetry Node SDK
// (sdk-trace-node + instrumentation-http), exporting OTLP/HTTP protobuf to
// the test receiver: the real W3C participant at the end of the chain.
//
//   node service.js PORT OTLP_URL
'use strict';
const [port, otlp] = process.argv.slice(2);
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'node-sdk' }),
  spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: otlp }))],
});
provider.register();
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

const http = require('http');
http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('node ok traceparent=' + (req.headers.traceparent || '') + '\n');
}).listen(Number(port), '127.0.0.1');
