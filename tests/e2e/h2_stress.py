"""HTTP/2 injection under partial writes, with a real HTTP/2 stack on both
sides (Debian's python3-h2): for obs's end-to-end tests.

  h2_stress.py serve PORT [RAWFILE]  reads ONE byte per recv(), answers
                                     every request; prints a JSON report
                                     when the client has closed
  h2_stress.py goaway PORT           answers the first request with GOAWAY
                                     (last stream 0) and closes
  h2_stress.py call PORT N           N requests, many at once, through a
                                     non-blocking socket with the smallest
                                     SO_SNDBUF; some with bodies, one with
                                     a header block just under 16 KiB

The server's report counts requests, how many carried exactly one valid
traceparent, protocol errors (h2 raises on any framing or HPACK fault),
and whether every body arrived intact.
"""
import json
import re
import select
import socket
import sys

import h2.config
import h2.connection
import h2.events

TP = re.compile(rb"^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$")


def frame_types(raw):
    """Count the frame types in a client's byte stream (after the preface)."""
    counts, pos = {}, 24
    while pos + 9 <= len(raw):
        n = int.from_bytes(raw[pos:pos + 3], "big")
        counts[raw[pos + 3]] = counts.get(raw[pos + 3], 0) + 1
        pos += 9 + n
    return counts


def accept_h2(port):
    """Listen on port, accept one client, start HTTP/2 as its server."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    print("listening", flush=True)
    s, _ = ls.accept()
    ls.close()
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    return s, conn


def goaway(port):
    """Refuse the first request with GOAWAY: its stream was never processed."""
    s, conn = accept_h2(port)
    while True:
        b = s.recv(65536)
        if not b:
            break
        if any(isinstance(ev, h2.events.RequestReceived) for ev in conn.receive_data(b)):
            conn.close_connection(error_code=0, last_stream_id=0)
            s.sendall(conn.data_to_send())
            break
        s.sendall(conn.data_to_send())
    s.close()


def serve(port):
    s, conn = accept_h2(port)
    rep = {"requests": 0, "one_traceparent": 0, "bodies_ok": 0, "bodies": 0, "errors": [],
           "traceparents": []}
    bodies, heads = {}, {}
    raw = bytearray()
    while True:
        b = s.recv(1)  # one byte at a time: every frame arrives in pieces
        if not b:
            break
        raw += b
        try:
            events = conn.receive_data(b)
        except Exception as e:  # any protocol error is a failure of the test
            rep["errors"].append(repr(e))
            break
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                heads[ev.stream_id] = ev.headers
                bodies[ev.stream_id] = b""
            elif isinstance(ev, h2.events.DataReceived):
                bodies[ev.stream_id] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                h = heads.pop(ev.stream_id)
                body = bodies.pop(ev.stream_id)
                rep["requests"] += 1
                tps = [v for k, v in h if k == b"traceparent"]
                if len(tps) == 1 and TP.match(tps[0]):
                    rep["one_traceparent"] += 1
                rep["traceparents"] += [t.decode("latin-1") for t in tps][: 8 - len(rep["traceparents"])]
                want = dict(h).get(b"x-body-len")
                if want is not None:
                    rep["bodies"] += 1
                    if int(want) == len(body) and body == b"b" * len(body):
                        rep["bodies_ok"] += 1
                conn.send_headers(ev.stream_id, [(":status", "200"), ("content-length", "2")])
                conn.send_data(ev.stream_id, b"ok", end_stream=True)
        out = conn.data_to_send()
        if out:
            s.sendall(out)
    rep["continuation_frames"] = frame_types(bytes(raw)).get(9, 0)
    if len(sys.argv) > 3:  # keep what arrived, for inspection
        open(sys.argv[3], "wb").write(raw)
    print(json.dumps(rep), flush=True)


def call(port, n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)  # the kernel's minimum
    s.setblocking(False)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    pending = bytearray()
    done = 0
    sent = 0
    # a header block just under the peer's max frame size (16384): the
    # injected field no longer fits, so obs must move END_HEADERS to a
    # CONTINUATION frame of its own ("X" has an 8-bit Huffman code)
    big = "X" * (16384 - 80)
    # and one the app itself splits into HEADERS + CONTINUATION
    huge = "X" * 10000
    open_streams = 0

    bodies = {}  # stream -> body bytes not yet sent (flow control)

    def flush():
        nonlocal pending
        for sid in list(bodies):
            body = bodies[sid]
            k = min(len(body), conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if k > 0:
                conn.send_data(sid, body[:k], end_stream=k == len(body))
                body = body[k:]
            if body:
                bodies[sid] = body
            else:
                del bodies[sid]
        pending += conn.data_to_send()
        while pending:
            try:
                k = s.send(pending)
            except BlockingIOError:
                return
            del pending[:k]

    while done < n:
        while sent < n and open_streams < 50:
            sid = conn.get_next_available_stream_id()
            hdrs = [(":method", "POST" if sent % 3 == 0 else "GET"), (":path", "/r/%d" % sent),
                    (":scheme", "http"), (":authority", "127.0.0.1:%d" % port),
                    ("x-seq", str(sent))]
            if sent == n // 2:
                hdrs.append(("x-big", big))
            if sent == n // 3:
                hdrs += [("x-huge1", huge), ("x-huge2", huge)]
            if sent % 3 == 0:
                body = b"b" * (1000 + sent * 37 % 5000)
                hdrs.append(("x-body-len", str(len(body))))
                conn.send_headers(sid, hdrs)
                bodies[sid] = body
            else:
                conn.send_headers(sid, hdrs, end_stream=True)
            sent += 1
            open_streams += 1
            flush()
        r, w, _ = select.select([s], [s] if pending else [], [], 5)
        if not r and not w:
            raise SystemExit("stalled: %d of %d done" % (done, n))
        if w:
            flush()
        if r:
            data = s.recv(65536)
            if not data:
                raise SystemExit("server closed after %d" % done)
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.StreamEnded):
                    done += 1
                    open_streams -= 1
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            flush()
    conn.close_connection()
    flush()
    s.setblocking(True)
    s.close()
    print("done", done, flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif sys.argv[1] == "goaway":
        goaway(int(sys.argv[2]))
    else:
        call(int(sys.argv[2]), int(sys.argv[3]))
