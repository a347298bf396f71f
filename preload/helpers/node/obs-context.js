// obs's context helper for Node.js, loaded by the obs shim before the app
// (NODE_OPTIONS=--require, set by libobs_preload.so in a node process).
//
// Node interleaves requests on one thread: when a handler awaits, another
// request runs, and the shim alone cannot tell which incoming request an
// outgoing one belongs to. This helper can: an AsyncLocalStorage follows
// each incoming request (HTTP/1 'request', HTTP/2 'stream': grpc-js
// included) through its awaits, and just before bytes go to a client
// socket (http, fetch/undici) or a new HTTP/2 client stream is made
// (grpc-js), it tells the shim which incoming request is writing.
//
// The channel is access(2) on a path that cannot exist: the shim answers
// it without a syscall; without the shim it fails and the helper turns
// itself off. Every hook fails open: any error disables the helper and the
// app goes on exactly as without it. It prints nothing. An OpenTelemetry
// SDK in the app is untouched, and its own traceparent wins in the shim.
'use strict';
(function obsContext() {
  const PREFIX = '/\x7fobs-ctx/';
  const NONE = '-1,0,0'; // no word on this write: the shim's own rules decide
  let off = false;
  let fs;
  let als;
  const fault = process.env.OBS_HELPER_TEST_FAULT === '1'; // tests: a helper that throws

  function tell(msg) {
    if (off) return;
    try {
      fs.accessSync(PREFIX + msg);
    } catch (e) {
      off = true; // no shim here: nothing to tell
    }
  }

  // The key the shim knows an incoming request by: its socket's fd, the
  // peer's port, its HTTP/2 stream (0: the HTTP/1 request in flight).
  function keyOf(sock, stream) {
    const h = sock && sock._handle;
    const fd = h && h.fd;
    if (typeof fd !== 'number' || fd < 0) return null;
    return fd + ',' + (sock.remotePort | 0) + ',' + (stream | 0);
  }

  // Listeners the app adds to obj run inside the incoming request's
  // context: its events come from resources made before the request was
  // known (the socket's reads), so binding the request alone would lose its
  // body. Only listeners are wrapped, once each, not every event emitted:
  // wrapping emit itself cost ~40 us per request (bench/node-context).
  // The wrapper carries .listener, as Node's own once() wrappers do, so
  // removeListener(fn) still finds it.
  const ADDERS = { on: 'on', addListener: 'addListener', prependListener: 'prependListener',
    once: 'on', prependOnceListener: 'prependListener' };
  function bindListeners(obj, key) {
    // The originals first: once() must add through the original on(), not
    // through a wrapper, or its listener would be wrapped twice.
    const origs = {};
    for (const name of Object.keys(ADDERS)) origs[name] = obj[name];
    for (const name of Object.keys(ADDERS)) {
      const add = origs[ADDERS[name]];
      const orig = origs[name];
      if (typeof orig !== 'function' || typeof add !== 'function') continue;
      const once = name !== ADDERS[name];
      obj[name] = function (event, fn) {
        if (off || typeof fn !== 'function') return orig.apply(this, arguments);
        const bound = function () {
          if (once) this.removeListener(event, bound); // as Node's once does
          const self = this;
          const args = arguments;
          return als.run(key, function () { return fn.apply(self, args); });
        };
        bound.listener = fn;
        return add.call(this, event, bound);
      };
    }
  }

  // Run listeners of `event` inside the incoming request's context, and
  // every later event of the request object (arg) too.
  function wrapEmit(proto, event, keyFn) {
    const orig = proto.emit;
    proto.emit = function emit(type, arg) {
      if (off || type !== event) return orig.apply(this, arguments);
      let key = null;
      try {
        key = keyFn(arg);
        if (key) bindListeners(arg, key);
      } catch (e) {
        off = true;
      }
      if (!key) return orig.apply(this, arguments);
      const self = this;
      const args = arguments;
      return als.run(key, function () { return orig.apply(self, args); });
    };
  }

  // Just before the bytes of a client socket's write go to libuv.
  const kLast = Symbol('obs.context');
  function note(sock) {
    if (off || sock.server) return; // a server's socket carries responses
    try {
      if (fault) throw new Error('obs helper: test fault');
      const h = sock._handle;
      const fd = h && h.fd;
      if (typeof fd !== 'number' || fd < 0) return;
      const key = als.getStore() || NONE;
      if (sock[kLast] === key) return;
      sock[kLast] = key;
      tell('C' + fd + ',' + key);
    } catch (e) {
      off = true;
    }
  }

  function wrapWrite(proto, name) {
    const orig = proto[name];
    if (typeof orig !== 'function') return;
    proto[name] = function () {
      note(this);
      return orig.apply(this, arguments);
    };
  }

  // A new HTTP/2 client stream: its id is known once request() returns
  // on a connected session, else at 'ready'.
  let h2patched = false;
  function patchSession(proto) {
    if (h2patched || typeof proto.request !== 'function') return;
    h2patched = true;
    const orig = proto.request;
    proto.request = function request() {
      const stream = orig.apply(this, arguments);
      if (off) return stream;
      try {
        const key = als.getStore() || NONE;
        const sock = this.socket;
        const fd = sock && sock._handle && sock._handle.fd;
        const send = () => {
          if (typeof fd === 'number' && fd >= 0 && stream.id > 0)
            tell('S' + fd + ',' + stream.id + ',' + key);
        };
        if (stream.id > 0) send();
        else stream.once('ready', send);
      } catch (e) {
        off = true;
      }
      return stream;
    };
  }

  try {
    fs = require('fs');
    tell('H1');
    if (off) return;
    als = new (require('async_hooks').AsyncLocalStorage)();
    const http = require('http');
    const http2 = require('http2');
    const net = require('net');
    wrapEmit(http.Server.prototype, 'request', (req) => keyOf(req.socket, 0));
    wrapEmit(Object.getPrototypeOf(http2.createServer()), 'stream',
      (stream) => keyOf(stream.session && stream.session.socket, stream.id));
    wrapWrite(net.Socket.prototype, '_writeGeneric');
    wrapWrite(net.Socket.prototype, '_writev');
    const connect = http2.connect;
    http2.connect = function () {
      const session = connect.apply(this, arguments);
      try {
        patchSession(Object.getPrototypeOf(session));
      } catch (e) {
        off = true;
      }
      return session;
    };
  } catch (e) {
    off = true;
  }
})();
