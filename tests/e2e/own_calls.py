# Two requests on one keep-alive connection, one sent with send() (sendall)
# and one with write() (os.write), each answer read whole: for the test
# that runs this under a seccomp filter refusing writev and sendmsg.
#   python3 own_calls.py PORT
import os
import socket
import sys

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
buf = b""


def answer():
    global buf
    while b"\r\n\r\n" not in buf:
        got = s.recv(65536)
        if not got:
            sys.exit("own_calls: connection closed early")
        buf += got
    head, _, buf = buf.partition(b"\r\n\r\n")
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(buf) < n:
        buf += s.recv(65536)
    buf = buf[n:]
    print(head.split(b"\r\n")[0].decode())


s.sendall(b"GET /own-send HTTP/1.1\r\nHost: x\r\n\r\n")
answer()
req = b"GET /own-write HTTP/1.1\r\nHost: x\r\n\r\n"
assert os.write(s.fileno(), req) == len(req)
answer()
