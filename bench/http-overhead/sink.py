#!/usr/bin/env python3
"""A minimal OTLP/HTTP sink for the benchmark: accepts POST /v1/traces,
reads the body, answers 200 with an empty ExportTraceServiceResponse.
It does not decode (the tests do that); it only counts requests and bytes,
printed to stderr when it is stopped (SIGTERM).

    sink.py PORT
"""
import http.server
import signal
import sys

stats = {"requests": 0, "bytes": 0}


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        stats["requests"] += 1
        stats["bytes"] += n
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink)

    def stop(*_):
        print(f"sink: {stats['requests']} requests, {stats['bytes']} bytes", file=sys.stderr)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    srv.serve_forever()


if __name__ == "__main__":
    main()
