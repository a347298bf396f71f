// The OpenTelemetry Node SDK set up as an application would: a tracer
// provider exporting OTLP/HTTP protobuf to the test receiver, and the given
// instrumentations registered. Shared by service.js and grpc_service.js.
'use strict';
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');

module.exports = function setup(serviceName, otlpUrl, instrumentations) {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: otlpUrl }))],
  });
  provider.register();
  registerInstrumentations({ instrumentations });
  return provider;
};
