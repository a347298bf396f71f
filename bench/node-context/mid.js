// The Node.js service of bench/node-context: every request awaits a
// downstream call (a keep-alive http client to the leaf) and answers with
// its body, as a typical API gateway or BFF does. No tracing code unless
// BENCH_SDK=OTLP_URL, which runs the official OpenTelemetry Node SDK
// (sdk-trace-node + instrumentation-http, batching, OTLP/HTTP protobuf):
// what a Node user would pick instead of obs.
//
//   node mid.js PORT LEAF_URL
'use strict';
const [port, leaf] = process.argv.slice(2);
if (process.env.BENCH_SDK) {
  const path = require('path');
  const modules = path.join(__dirname, '../../tests/e2e/node/node_modules');
  const req = (m) => require(path.join(modules, m));
  const { NodeTracerProvider } = req('@opentelemetry/sdk-trace-node');
  const { BatchSpanProcessor } = req('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } = req('@opentelemetry/exporter-trace-otlp-proto');
  const { resourceFromAttributes } = req('@opentelemetry/resources');
  const { registerInstrumentations } = req('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = req('@opentelemetry/instrumentation-http');
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench-mid' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.BENCH_SDK }))],
  });
  provider.register();
  registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });
}
const http = require('http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const get = () => new Promise((resolve, reject) => {
  http.get(leaf, { agent }, (r) => {
    let b = '';
    r.on('data', (d) => { b += d; });
    r.on('end', () => resolve(b));
  }).on('error', reject);
});
http.createServer(async (req, res) => {
  try {
    res.end(await get());
  } catch (e) {
    res.statusCode = 502;
    res.end();
  }
}).listen(Number(port), '127.0.0.1');
