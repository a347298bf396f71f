# A Python service that keeps its data in Redis (redis-py, a connection
# pool shared by its threads). No tracing code of its own.
#   python3 redis_app.py PORT REDIS_PORT
#   GET /item/N   SET item:N, GET it back, then a pipeline of 100 INCRs
#                 (MULTI/EXEC on even N), and answers the value read
#   GET /bad      an LPUSH on a string key: Redis answers WRONGTYPE
import http.server
import sys

import redis

R = redis.Redis(host="127.0.0.1", port=int(sys.argv[2]))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/item/"):
            n = int(self.path.rsplit("/", 1)[1])
            key = "item:%d" % n
            R.set(key, ("value-%d-" % n) * 50)
            body = R.get(key)
            p = R.pipeline(transaction=n % 2 == 0)
            for _ in range(100):
                p.incr("hits:%d" % n)
            p.execute()
        else:
            R.set("str", "x")
            try:
                R.lpush("str", "y")
                body = b"no error?"
            except redis.ResponseError as e:
                body = str(e).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
