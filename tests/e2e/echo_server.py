# A deterministic HTTP/1.1 test server: answers every request with what it
# received (method, path, traceparent headers, body length), so a test can
# compare runs with and without obs byte for byte.
#   python3 echo_server.py PORT
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "echo"
    sys_version = ""

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        tps = self.headers.get_all("traceparent") or []
        out = "%s %s tp=%d %s ts=%s body=%d\n" % (
            self.command, self.path, len(tps), ",".join(tps),
            self.headers.get("tracestate"), len(body))
        b = out.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b)

    do_GET = do_POST = do_PUT = do_HEAD = answer

    def date_time_string(self, timestamp=None):
        return "fixed"  # deterministic responses

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
