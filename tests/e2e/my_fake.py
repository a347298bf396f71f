# A MySQL server that answers wrong: it greets and accepts any login, then
# answers the first query with a result set of no columns (which the
# protocol has not), then closes. For the test that the client's bytes
# and answers are the same with and without obs, and that obs counts the
# broken answer.   python3 my_fake.py PORT
import socket
import struct
import sys


def pkt(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def read_pkt(c):
    head = b""
    while len(head) < 4:
        more = c.recv(4 - len(head))
        if not more:
            return None
        head += more
    n = int.from_bytes(head[:3], "little")
    body = b""
    while len(body) < n:
        more = c.recv(n - len(body))
        if not more:
            return None
        body += more
    return body


GREETING = (b"\x0a5.5.5-10.11.19-MariaDB-fake\x00" + b"\x07" * 4 + b"abcdefgh\x00"
            + b"\xfe\xf7\x08\x02\x00\xff\x81\x15" + b"\x00" * 10 + b"ijklmnopqrst\x00"
            + b"mysql_native_password\x00")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    try:
        c.sendall(pkt(0, GREETING))
        read_pkt(c)  # the login
        c.sendall(pkt(2, b"\x00\x00\x00\x02\x00\x00\x00"))
        while True:
            q = read_pkt(c)
            if q is None or q[:1] == b"\x01":
                break
            if q[:1] == b"\x03" and b"@@" not in q:
                c.sendall(pkt(1, b"\xfc\x00\x00"))  # no columns
                break
            # what the client asks at start (@@version_comment): one row
            c.sendall(pkt(1, b"\x01")
                      + pkt(2, b"\x03def\x00\x00\x00\x01x\x00\x0c\x21\x00\x10\x00\x00\x00\xfd\x00\x00\x27\x00\x00")
                      + pkt(3, b"\xfe\x00\x00\x02\x00") + pkt(4, b"\x04fake") + pkt(5, b"\xfe\x00\x00\x02\x00"))
    except OSError:
        pass
    c.close()
