"""A middle service of the context conformance matrix: Python's threaded
http.server with urllib, no tracing code of its own. Each request waits
1-15 ms on its own thread, then calls the leaf with the same path.

  python3 thread_mid.py PORT LEAF_URL
"""
import http.server
import random
import sys
import time
import urllib.request

PORT, LEAF = int(sys.argv[1]), sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep(random.randint(1, 15) / 1000)
        with urllib.request.urlopen(LEAF + self.path) as r:
            body = r.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
