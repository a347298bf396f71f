# Injection under partial writes: a client (run with the shim preloaded)
# sends a request with a large body from a non-blocking socket with a tiny
# SO_SNDBUF, honouring every short count; the server (a child process without
# the shim) reads one byte at a time. The server must receive the client's
# exact bytes plus one traceparent field before the blank line, and the
# client must have been told exactly its own byte count.
#   LD_PRELOAD=libobs_preload.so python3 partial_write.py
import os
import select
import socket
import sys

head = b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"p" * 3000 + b"\r\nContent-Length: 200000\r\n\r\n"
body = bytes((i * 7) & 0xFF for i in range(200000))
msg = head + body

ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
port = ls.getsockname()[1]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.environ.pop("LD_PRELOAD", None)
    conn, _ = ls.accept()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    got = bytearray()
    while True:
        b = conn.recv(1)
        if not b:
            break
        got += b
    os.write(w, bytes(got))
    os._exit(0)
os.close(w)
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1024)
c.connect(("127.0.0.1", port))
c.setblocking(False)
off, calls, short = 0, 0, 0
while off < len(msg):
    try:
        n = c.send(msg[off:off + 65536])
    except BlockingIOError:
        select.select([], [c], [])
        continue
    calls += 1
    if n < min(65536, len(msg) - off):
        short += 1
    assert 0 < n <= len(msg) - off, n
    off += n
c.close()
got = b""
while True:
    b = os.read(r, 1 << 20)
    if not b:
        break
    got += b
os.waitpid(pid, 0)
i = got.find(b"traceparent: ")
assert i > 0, "no traceparent injected"
line_end = got.index(b"\r\n", i) + 2
injected = got[i:line_end]
assert got[:i] + got[line_end:] == msg, "app bytes changed"
assert i == len(head) - 2, "injected at %d, head ends at %d" % (i, len(head) - 2)
assert got.count(b"traceparent:") == 1
print("ok calls=%d short=%d injected=%r" % (calls, short, injected.strip()))
