// The OpenTelemetry Node SDK set up as an application would: a tracer
// provider exporting OTLP/HTTP protobuf to the test receiver, and the given
// instrumentations registered. Shared by service.js and grpc_service.js.
'use strict';
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');

module.exports = function setup(serviceName, otlpUrl, instrumentations) {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    // batches every 50 ms: exporting span by span would run into the
    // exporter's limit of 30 exports at once under concurrent load
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpUrl }),
      { scheduledDelayMillis: 50, maxQueueSize: 8192, maxExportBatchSize: 512 })],
  });
  provider.register();
  registerInstrumentations({ instrumentations });
  return provider;
};
