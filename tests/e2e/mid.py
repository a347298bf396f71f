# The middle hop: a Python http.server that calls a downstream URL for every
# request and returns the downstream body. No tracing code of its own.
#   python3 mid.py PORT DOWNSTREAM_URL
import http.server
import sys
import urllib.request

DOWN = sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with urllib.request.urlopen(DOWN + self.path) as r:
            body = r.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
