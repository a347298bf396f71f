"""The leaf of the --go-inject tests (inject.bats): answers what it was
sent, as the test must see it, not as a library would tidy it.

    inject_leaf.py PORT [CERT KEY]    (with CERT and KEY: over TLS)

POST /sink   "leaf <sha256 of the body> <its length> tp=<traceparent fields>
             [values...]" and, on the next line, the request head's field
             names in order
GET /small   "small" (Connection: close)
"""
import hashlib
import http.server
import ssl
import sys


class Leaf(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        tps = self.headers.get_all("traceparent") or []
        names = [k for k, _ in self.headers.items()]
        out = ("leaf %s %d tp=%d %s\n%s\n" % (hashlib.sha256(body).hexdigest(), len(body),
               len(tps), " ".join(tps), " ".join(names))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"small")

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Leaf)
if len(sys.argv) > 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
