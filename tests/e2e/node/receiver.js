// An OTLP/HTTP trace receiver for obs's end-to-end tests. It decodes every
// request with protobufjs and the official opentelemetry-proto .proto files
// (the ones obs's build fetched), independently of obs's own encoder, and
// writes one JSON line per span to OUT. Faults: FAULTS is a comma list of
// responses for successive requests ("503", "429:1" = 429 with
// Retry-After: 1, "400", "partial:N" = 200 with partial_success rejecting
// N); after the list, 200. Each request is logged to OUT.requests, with
// its body's size and its Expect header. Like some receivers and proxies,
// it never answers "Expect: 100-continue" (a client that asks waits for
// its own timeout before it sends the body).
//
// TLS_CERT and TLS_KEY: serve HTTPS with them; TLS_CA as well: ask for a
// client certificate signed by it, and refuse a connection without one
// (each request's log names the client certificate's CN).
//
//   node receiver.js PORT OUT PROTO_DIR
'use strict';
const http = require('http');
const https = require('https');
const zlib = require('zlib');
const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');

const [port, out, protoDir] = process.argv.slice(2);
const faults = (process.env.FAULTS || '').split(',').filter(Boolean);

const root = new protobuf.Root();
root.resolvePath = (origin, target) => path.join(protoDir, target);
root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', { keepCase: true });
const Req = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
const hex = (b) => Buffer.from(b || []).toString('hex');

function anyValue(v) {
  if (!v) return null;
  if (v.stringValue !== undefined && v.stringValue !== null && v.stringValue !== '') return v.stringValue;
  if (v.string_value !== undefined) return v.string_value;
  if (v.int_value !== undefined) return Number(v.int_value);
  if (v.bool_value !== undefined) return v.bool_value;
  if (v.double_value !== undefined) return v.double_value;
  return null;
}
function attrs(list) {
  const o = {};
  for (const kv of list || []) o[kv.key] = anyValue(kv.value);
  return o;
}

// partial_success response: field 1 (message) { 1: int64 rejected, 2: string }
function partial(n, msg) {
  const m = Buffer.from(msg);
  const inner = Buffer.concat([Buffer.from([0x08, n]), Buffer.from([0x12, m.length]), m]);
  return Buffer.concat([Buffer.from([0x0a, inner.length]), inner]);
}

let nreq = 0;
const tls = process.env.TLS_CERT
  ? { cert: fs.readFileSync(process.env.TLS_CERT), key: fs.readFileSync(process.env.TLS_KEY),
      ...(process.env.TLS_CA ? { ca: fs.readFileSync(process.env.TLS_CA), requestCert: true,
                                 rejectUnauthorized: true } : {}) }
  : null;
const serve = (handler) => (tls ? https.createServer(tls, handler) : http.createServer(handler));
const handle = (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    const fault = faults[nreq++];
    const log = { n: nreq, url: req.url, encoding: req.headers['content-encoding'] || null,
                  type: req.headers['content-type'], fault: fault || null, spans: 0,
                  bytes: body.length, expect: req.headers.expect || null };
    if (tls && req.socket.getPeerCertificate) {
      const pc = req.socket.getPeerCertificate();
      log.client_cn = pc && pc.subject ? pc.subject.CN : null;
    }
    try {
      if (req.url !== '/v1/traces') throw new Error('wrong path ' + req.url);
      if (log.encoding === 'gzip') body = zlib.gunzipSync(body);
      const msg = Req.toObject(Req.decode(body), { longs: String, bytes: Array, defaults: false });
      if (!fault || fault.startsWith('partial')) {
        for (const rs of msg.resource_spans || []) {
          const res_ = attrs(rs.resource && rs.resource.attributes);
          for (const ss of rs.scope_spans || []) {
            for (const s of ss.spans || []) {
              log.spans++;
              fs.appendFileSync(out, JSON.stringify({
                trace_id: hex(s.trace_id), span_id: hex(s.span_id),
                parent_span_id: hex(s.parent_span_id), name: s.name, kind: s.kind,
                start: s.start_time_unix_nano, end: s.end_time_unix_nano,
                status: s.status ? (s.status.code || 0) : 0,
                trace_state: s.trace_state || '',
                service: res_['service.name'], resource: res_, attributes: attrs(s.attributes),
                scope: ss.scope ? ss.scope.name : null,
              }) + '\n');
            }
          }
        }
      }
    } catch (e) {
      log.error = String(e);
      fs.appendFileSync(out + '.requests', JSON.stringify(log) + '\n');
      res.writeHead(400); res.end(); return;
    }
    fs.appendFileSync(out + '.requests', JSON.stringify(log) + '\n');
    if (!fault) { res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }); res.end(); return; }
    if (fault.startsWith('partial:')) {
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
      res.end(partial(Number(fault.split(':')[1]), 'some spans rejected by the test'));
      return;
    }
    const [code, after] = fault.split(':');
    const h = after ? { 'Retry-After': after } : {};
    res.writeHead(Number(code), h); res.end();
  });
};
const srv = serve(handle);
// no "100 Continue": the request is handled when its body comes
srv.on('checkContinue', handle);
srv.listen(Number(port), '127.0.0.1', () => fs.writeFileSync(out + '.ready', 'ok'));
