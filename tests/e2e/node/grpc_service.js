// A Node @grpc/grpc-js server instrumented with the official OpenTelemetry
// Node SDK (sdk-trace-node + instrumentation-grpc), exporting OTLP/HTTP
// protobuf to the test receiver: a real W3C participant speaking gRPC.
// Same service as tests/e2e/grpc_demo.py (raw-bytes messages).
//
//   node grpc_service.js PORT OTLP_URL
'use strict';
const [port, otlp] = process.argv.slice(2);
const { GrpcInstrumentation } = require('@opentelemetry/instrumentation-grpc');
require('./otel')('node-grpc', otlp, [new GrpcInstrumentation()]);

// required after the instrumentation is registered, so it is patched
const grpc = require('@grpc/grpc-js');
const id = (b) => b;
const method = (name, requestStream, responseStream) => ({
  path: `/demo.Echo/${name}`, requestStream, responseStream,
  requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id,
});
const service = {
  Unary: method('Unary', false, false),
  NotFound: method('NotFound', false, false),
  ServerStream: method('ServerStream', false, true),
};
const server = new grpc.Server();
server.addService(service, {
  Unary: (call, cb) => cb(null, Buffer.concat([Buffer.from('echo:'), call.request])),
  NotFound: (call, cb) => cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' }),
  ServerStream: (call) => {
    for (let i = 0; i < 3; i++) call.write(Buffer.from(`part${i}`));
    call.end();
  },
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  console.log('serving', port);
});
