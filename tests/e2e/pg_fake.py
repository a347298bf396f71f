# A fake PostgreSQL server for one test: it lets anyone in, answers the
# first query properly and the second with a message of a type that does
# not exist ('@'), then closes. No TLS (answers SSLRequest with 'N').
#   python3 pg_fake.py PORT
import socket
import struct
import sys


def msg(t, payload):
    return t + struct.pack(">I", len(payload) + 4) + payload


def read_msg(c, typed=True):
    head = b""
    need = 5 if typed else 4
    while len(head) < need:
        b = c.recv(need - len(head))
        if not b:
            return None, None
        head += b
    n = struct.unpack(">I", head[-4:])[0] - 4
    body = b""
    while len(body) < n:
        body += c.recv(n - len(body))
    return (head[:1] if typed else b""), body


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    _, body = read_msg(c, typed=False)
    if body is not None and struct.unpack(">I", body[:4])[0] == 80877103:
        c.sendall(b"N")
        _, body = read_msg(c, typed=False)
    c.sendall(msg(b"R", struct.pack(">I", 0)) + msg(b"Z", b"I"))
    queries = 0
    while True:
        t, body = read_msg(c)
        if t is None or t == b"X":
            break
        if t == b"Q":
            queries += 1
            if queries == 1:
                c.sendall(
                    msg(b"T", struct.pack(">H", 1) + b"x\0" + struct.pack(">IHIhih", 0, 0, 23, 4, -1, 0))
                    + msg(b"D", struct.pack(">HI", 1, 1) + b"1")
                    + msg(b"C", b"SELECT 1\0")
                    + msg(b"Z", b"I")
                )
            else:
                c.sendall(msg(b"@", b"garbage") + msg(b"Z", b"I"))
    c.close()
