# Send raw bytes to a server and print exactly what came back (repr), for
# malformed-traffic tests: the same bytes must get the same answer with and
# without obs.   python3 rawclient.py PORT CASE
import socket
import sys
import time

port, case = int(sys.argv[1]), sys.argv[2]
TP = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CASES = {
    "garbage": [b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n"],
    "not-http": [b"HELLO WORLD\r\n\r\n"],
    "huge-header": [b"GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n"],
    "many-headers": [b"GET /many HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(120)) + b"\r\n"],
    "truncated": [b"GET /trunc HTTP/1.1\r\nHost: x\r\nContent-Le"],
    "truncated-body": [b"POST /tb HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort"],
    "bad-tp-zero": [b"GET /z HTTP/1.1\r\nHost: x\r\ntraceparent: 00-00000000000000000000000000000000-b7ad6b7169203331-01\r\nConnection: close\r\n\r\n"],
    "bad-tp-ff": [b"GET /ff HTTP/1.1\r\nHost: x\r\ntraceparent: ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nConnection: close\r\n\r\n"],
    "bad-tp-upper": [b"GET /up HTTP/1.1\r\nHost: x\r\ntraceparent: 00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01\r\nConnection: close\r\n\r\n"],
    "bad-tp-long": [b"GET /long HTTP/1.1\r\nHost: x\r\ntraceparent: 00-" + b"a" * 300 + b"\r\nConnection: close\r\n\r\n"],
    "two-tp": [b"GET /two HTTP/1.1\r\nHost: x\r\ntraceparent: " + TP + b"\r\ntraceparent: " + TP + b"\r\nConnection: close\r\n\r\n"],
    "pipelined": [b"GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /p3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    "chunked": [b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n"],
    "split": [b"GE", b"T /split HT", b"TP/1.1\r\nHo", b"st: x\r\ntracepa", b"rent: " + TP + b"\r\nConnection: close\r\n\r\n"],
    "bytes-1": [bytes([i]) for i in b"GET /one HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
}
s = socket.create_connection(("127.0.0.1", port), timeout=5)
try:
    for piece in CASES[case]:
        s.sendall(piece)
        time.sleep(0.02)
    s.shutdown(socket.SHUT_WR)
except OSError as e:  # the server may close first (it rejected the bytes)
    print("send: %s" % e.__class__.__name__)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except (socket.timeout, ConnectionResetError):
    data += b"<reset-or-timeout>"
print(repr(data))
