# One unary gRPC call over h2c whose client preface, SETTINGS, HEADERS and
# DATA all go in a single write: a grpc-go server then reads the call's
# HEADERS on the goroutine that handshakes the connection, not on its
# transport's reader. Prints "OK <echoed bytes>" once the call's trailers
# came.   python3 grpc_onewrite.py PORT TRACEPARENT [PAYLOAD]
import socket
import struct
import sys

port, tp = int(sys.argv[1]), sys.argv[2].encode()
payload = (sys.argv[3] if len(sys.argv) > 3 else "one-write").encode()


def frame(ftype, flags, stream, body):
    return struct.pack(">I", len(body))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + body


def literal(name, value):
    # HPACK literal without indexing, new name, no Huffman (RFC 7541 6.2.2);
    # every length here is below 127, one prefix byte
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


headers = b"".join(
    literal(n, v)
    for n, v in (
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/demo.Echo/Unary"),
        (b":authority", b"127.0.0.1:%d" % port),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
        (b"traceparent", tp),
    )
)
message = b"\x00" + struct.pack(">I", len(payload)) + payload
out = (
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    + frame(4, 0, 0, b"")  # SETTINGS
    + frame(1, 0x4, 1, headers)  # HEADERS, END_HEADERS
    + frame(0, 0x1, 1, message)  # DATA, END_STREAM
)
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(out)  # one write
buf, data = b"", b""
while True:
    while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
        more = s.recv(65536)
        if not more:
            sys.exit("connection closed before the call's trailers")
        buf += more
    n = int.from_bytes(buf[:3], "big")
    ftype, flags, stream = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
    body, buf = buf[9 : 9 + n], buf[9 + n :]
    if ftype == 4 and not flags & 1:
        s.sendall(frame(4, 1, 0, b""))  # SETTINGS ACK
    elif ftype == 6 and not flags & 1:
        s.sendall(frame(6, 1, 0, body))  # PING ACK
    elif ftype == 7:
        sys.exit("GOAWAY: %r" % body)
    elif ftype == 3 and stream == 1:
        sys.exit("RST_STREAM: %r" % body)
    elif ftype == 0 and stream == 1:
        data += body
    elif ftype == 1 and stream == 1 and flags & 1:  # trailers
        break
s.close()
print("OK %s" % data[5:].decode(errors="replace"))
