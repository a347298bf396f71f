// The floor under any Node.js context follower (bench/node-context, config
// "als"): one AsyncLocalStorage entered for each incoming request and
// nothing else. On Node 20 that alone switches on V8's promise hooks for
// the whole process, which is most of what the obs helper (and the
// OpenTelemetry SDK's context manager) costs per request.
'use strict';
const als = new (require('async_hooks').AsyncLocalStorage)();
const http = require('http');
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (type) {
  if (type !== 'request') return emit.apply(this, arguments);
  const self = this;
  const args = arguments;
  return als.run(type, () => emit.apply(self, args));
};
