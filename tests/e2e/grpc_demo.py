"""A real python3-grpcio service and client for obs's end-to-end tests.

No generated code: generic handlers with raw-bytes messages, so the only
dependency is Debian's python3-grpcio.

  grpc_demo.py serve PORT [--tls CERT KEY]
  grpc_demo.py call  PORT CALLS... [--tls CERT] [--repeat N] [--threads T] [--shared]
                     [--linger SECONDS]

CALLS: unary, unary_big (100 KiB each way), server_stream, client_stream, bidi, bidi_long, not_found, deadline,
unavailable (the server sheds load), refused (dials PORT+1, where nothing
listens: the call never reaches the wire). Prints one line per
call: "<call> <status-code-name> <messages>".
"""
import sys
import threading
import time

import grpc

SERVICE = "demo.Echo"


def ident(b):
    return b


def unary(req, ctx):
    return b"echo:" + req


def server_stream(req, ctx):
    for i in range(3):
        yield b"part%d:" % i + req


def client_stream(it, ctx):
    n = sum(1 for _ in it)
    return b"got %d" % n


def bidi(it, ctx):
    for m in it:
        yield b"re:" + m


def not_found(req, ctx):
    ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing")


def unavailable(req, ctx):
    # what an overloaded or draining server answers
    ctx.abort(grpc.StatusCode.UNAVAILABLE, "shedding load")


def slow(req, ctx):
    time.sleep(1.0)
    return b"late"


def serve(port, tls):
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, ident, ident),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, ident, ident),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream, ident, ident),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi, ident, ident),
        "NotFound": grpc.unary_unary_rpc_method_handler(not_found, ident, ident),
        "Slow": grpc.unary_unary_rpc_method_handler(slow, ident, ident),
        "Unavailable": grpc.unary_unary_rpc_method_handler(unavailable, ident, ident),
    }
    from concurrent import futures

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    addr = "127.0.0.1:%d" % port
    if tls:
        cert, key = (open(p, "rb").read() for p in tls)
        server.add_secure_port(addr, grpc.ssl_server_credentials([(key, cert)]))
    else:
        server.add_insecure_port(addr)
    server.start()
    print("serving", addr, flush=True)
    server.wait_for_termination()


def channel(port, cert):
    addr = "127.0.0.1:%d" % port
    if cert:
        creds = grpc.ssl_channel_credentials(open(cert, "rb").read())
        # the test certificate names localhost
        return grpc.secure_channel(addr, creds, options=(("grpc.ssl_target_name_override", "localhost"),))
    return grpc.insecure_channel(addr)


def one(ch, port, cert, call):
    m = lambda name: "/%s/%s" % (SERVICE, name)
    try:
        if call == "unary":
            ch.unary_unary(m("Unary"))(b"hi", timeout=10)
            return "OK", 1
        if call == "unary_big":  # 100 KiB each way: many DATA frames, reads and writes
            req = bytes(range(256)) * 400
            resp = ch.unary_unary(m("Unary"))(req, timeout=10)
            if not resp.endswith(req):
                raise SystemExit("unary_big: the answer is not the request")
            return "OK", 1
        if call == "server_stream":
            n = len(list(ch.unary_stream(m("ServerStream"))(b"hi", timeout=10)))
            return "OK", n
        if call == "client_stream":
            ch.stream_unary(m("ClientStream"))(iter([b"a", b"b", b"c", b"d"]), timeout=10)
            return "OK", 1
        if call == "bidi":
            n = len(list(ch.stream_stream(m("Bidi"))(iter([b"x", b"y"]), timeout=10)))
            return "OK", n
        if call == "bidi_long":  # a long-lived stream: 1000 messages each way
            msgs = (b"m%d" % i for i in range(1000))
            n = len(list(ch.stream_stream(m("Bidi"))(msgs, timeout=60)))
            return "OK", n
        if call == "not_found":
            ch.unary_unary(m("NotFound"))(b"hi", timeout=10)
        elif call == "deadline":
            ch.unary_unary(m("Slow"))(b"hi", timeout=0.2)
        elif call == "unavailable":
            ch.unary_unary(m("Unavailable"))(b"hi", timeout=10)
        elif call == "refused":
            with channel(port + 1, cert) as dead:
                dead.unary_unary(m("Unary"))(b"hi", timeout=5)
        else:
            raise SystemExit("unknown call " + call)
        return "OK", 0
    except grpc.RpcError as e:
        return e.code().name, 0


def call(port, calls, cert, repeat, threads, shared):
    """threads callers; with shared, all on one channel (one HTTP/2
    connection carrying many concurrent streams)."""
    lock = threading.Lock()
    common = channel(port, cert) if shared else None

    def worker():
        ch = common or channel(port, cert)
        for _ in range(repeat):
            for c in calls:
                code, n = one(ch, port, cert, c)
                with lock:
                    print(c, code, n, flush=True)
        if not common:
            ch.close()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if common:
        common.close()


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    port = int(argv[2])
    rest = argv[3:]
    opt = {}
    i = 0
    args = []
    while i < len(rest):
        if rest[i] == "--tls":
            if argv[1] == "serve":
                opt["tls"] = (rest[i + 1], rest[i + 2])
                i += 3
            else:
                opt["tls"] = rest[i + 1]
                i += 2
        elif rest[i] == "--shared":
            opt["shared"] = True
            i += 1
        elif rest[i] in ("--repeat", "--threads", "--linger"):
            opt[rest[i][2:]] = int(rest[i + 1])
            i += 2
        else:
            args.append(rest[i])
            i += 1
    if argv[1] == "serve":
        serve(port, opt.get("tls"))
    else:
        call(port, args, opt.get("tls"), opt.get("repeat", 1), opt.get("threads", 1),
             opt.get("shared", False))
        print("calls done", flush=True)
        time.sleep(opt.get("linger", 0))  # stay up to be scraped


if __name__ == "__main__":
    main(sys.argv)
