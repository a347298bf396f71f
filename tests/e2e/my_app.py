# A Python service that keeps its data in MariaDB (PyMySQL, a pool of
# connections shared by its threads). No tracing code of its own.
#   python3 my_app.py PORT DB_PORT
#   GET /item/N   upserts row N, reads it back, commits (PyMySQL sends
#                 BEGIN, INSERT, SELECT, COMMIT) and answers the value read
#   GET /bad      a SELECT from a table that does not exist: answers the
#                 server's error code (1146)
#   GET /two      two INSERTs in one query (a multi-statement query)
#   GET /db       COM_INIT_DB to a database the user may not use (1044),
#                 then back to shop, and a COM_PING
import http.server
import queue
import sys

import pymysql
from pymysql.constants import CLIENT

POOL = queue.Queue()


def conn():
    try:
        return POOL.get_nowait()
    except queue.Empty:
        return pymysql.connect(host="127.0.0.1", port=int(sys.argv[2]), user="obs",
                               password="obs", database="shop",
                               client_flag=CLIENT.MULTI_STATEMENTS)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        c = conn()
        try:
            cur = c.cursor()
            if self.path.startswith("/item/"):
                n = int(self.path.rsplit("/", 1)[1])
                c.begin()
                cur.execute("INSERT INTO items VALUES (%s, %s) ON DUPLICATE KEY UPDATE v = VALUES(v)",
                            (n, ("value-%d-" % n) * 50))
                cur.execute("SELECT v FROM items WHERE id = %s", (n,))
                body = cur.fetchone()[0].encode()
                c.commit()
            elif self.path == "/two":
                cur.execute("INSERT INTO log VALUES (1); INSERT INTO log VALUES (2)")
                while cur.nextset():
                    pass
                c.commit()
                body = b"ok"
            elif self.path == "/db":
                try:
                    c.select_db("mysql")
                    body = b"no error?"
                except pymysql.MySQLError as e:
                    body = str(e.args[0]).encode()
                c.select_db("shop")
                c.ping(reconnect=False)
            else:
                try:
                    cur.execute("SELECT * FROM nosuch")
                    body = b"no error?"
                except pymysql.MySQLError as e:
                    body = str(e.args[0]).encode()
                c.rollback()
        finally:
            POOL.put(c)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
