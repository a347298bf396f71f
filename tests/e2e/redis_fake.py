# A server that speaks RESP until it does not: it answers PING with
# +PONG, GET with a bulk string whose payload runs past its length (a
# RESP-breaking reply), and anything else with a WRONGTYPE error. One
# client at a time; for obs's tests of bad input from a data store.
#   python3 redis_fake.py PORT
import socket
import sys

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(8)
while True:
    c, _ = ls.accept()
    buf = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        buf += d
        # whole commands only (the tests send small arrays)
        while buf.count(b"\r\n") >= 1 + 2 * int(buf[1:buf.index(b"\r\n")] or 0):
            n = int(buf[1:buf.index(b"\r\n")])
            parts = buf.split(b"\r\n")
            name = parts[2].upper()
            buf = b"\r\n".join(parts[1 + 2 * n:])
            if name == b"PING":
                c.sendall(b"+PONG\r\n")
            elif name == b"GET":
                c.sendall(b"$4\r\nPONG-and-more\r\n")
            else:
                c.sendall(b"-WRONGTYPE not here\r\n")
            if not buf:
                break
    c.close()
