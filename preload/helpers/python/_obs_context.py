"""obs's context helper for Python asyncio, loaded by the obs shim's
sitecustomize.py (PYTHONPATH, set by libobs_preload.so in a python process).

asyncio interleaves requests on one thread: when a handler awaits, another
request runs, and the shim alone cannot tell which incoming request an
outgoing one belongs to. This helper can: a ContextVar follows each
incoming connection into the tasks its protocol starts (aiohttp, asyncio
streams, any protocol on asyncio's socket transports), and just before a
client transport writes, it tells the shim which incoming request is
writing.

The channel is access(2) on a path that cannot exist: the shim answers it
without a syscall; without the shim it fails and the helper turns itself
off. Nothing is imported until the app imports asyncio; every hook fails
open (any error disables the helper, the app goes on as without it) and
prints nothing. An OpenTelemetry SDK in the app is untouched, and its own
traceparent wins in the shim.
"""
import contextvars
import os

PREFIX = "/\x7fobs-ctx/"
NONE = "-1,0,0"
_incoming = contextvars.ContextVar("obs_incoming", default=None)
_off = False
_fault = os.environ.get("OBS_HELPER_TEST_FAULT") == "1"  # tests: a helper that throws


def _tell(msg):
    global _off
    if _off:
        return
    try:
        if not os.access(PREFIX + msg, os.F_OK):
            _off = True  # no shim here: nothing to tell
    except Exception:
        _off = True


def install(selector_events):
    """Wrap the socket transports of asyncio.selector_events."""
    global _off
    _tell("H1")
    if _off:
        return
    loop_cls = selector_events.BaseSelectorEventLoop
    transport_cls = selector_events._SelectorSocketTransport
    make = loop_cls._make_socket_transport
    write = transport_cls.write

    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None, server=None):
        # an accepted connection: its protocol's callbacks, and the tasks
        # they start, run with the connection as the incoming request
        global _off
        if server is None or _off:
            return make(self, sock, protocol, waiter, extra=extra, server=server)
        try:
            key = "%d,%d,0" % (sock.fileno(), sock.getpeername()[1])
            ctx = contextvars.copy_context()
            ctx.run(_incoming.set, key)
        except Exception:
            _off = True
            return make(self, sock, protocol, waiter, extra=extra, server=server)
        return ctx.run(make, self, sock, protocol, waiter, extra=extra, server=server)

    def obs_write(self, data):
        global _off
        if not _off and self._server is None:
            try:
                if _fault:
                    raise RuntimeError("obs helper: test fault")
                key = _incoming.get() or NONE
                if self.__dict__.get("_obs_context") != key:
                    self.__dict__["_obs_context"] = key
                    _tell("C%d,%s" % (self._sock_fd, key))
            except Exception:
                _off = True
        return write(self, data)

    loop_cls._make_socket_transport = _make_socket_transport
    transport_cls.write = obs_write
