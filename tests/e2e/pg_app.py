# A Python service that keeps its data in PostgreSQL (psycopg2, a pool of
# connections shared by its threads). No tracing code of its own.
#   python3 pg_app.py PORT DSN
#   GET /item/N   upserts row N, reads it back, commits (psycopg2 sends
#                 BEGIN, INSERT, SELECT, COMMIT) and answers the value read
#   GET /bad      a SELECT from a table that does not exist: 42P01
#   GET /two      two INSERTs in one query string (one simple Query)
import http.server
import sys

import psycopg2
import psycopg2.pool

POOL = psycopg2.pool.ThreadedConnectionPool(1, 40, sys.argv[2])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        conn = POOL.getconn()
        try:
            cur = conn.cursor()
            if self.path.startswith("/item/"):
                n = int(self.path.rsplit("/", 1)[1])
                cur.execute(
                    "INSERT INTO items VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v",
                    (n, ("value-%d-" % n) * 50),
                )
                cur.execute("SELECT v FROM items WHERE id = %s", (n,))
                body = cur.fetchone()[0].encode()
                conn.commit()
            elif self.path == "/two":
                cur.execute("INSERT INTO log VALUES (1); INSERT INTO log VALUES (2)")
                conn.commit()
                body = b"ok"
            else:
                try:
                    cur.execute("SELECT * FROM nosuch")
                    body = b"no error?"
                except psycopg2.Error as e:
                    body = e.pgcode.encode()
                conn.rollback()
        finally:
            POOL.putconn(conn)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
