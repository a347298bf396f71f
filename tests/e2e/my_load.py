# A MySQL/MariaDB load for the ASan run (scripts/test.sh): THREADS threads,
# each on its own connection (PyMySQL), ROUNDS rounds of a query, an
# upsert, a 2000-row result (its packets split across reads), two
# statements in one query and an error, then prints "my_load ok".
#   python3 my_load.py PORT THREADS ROUNDS
import sys
import threading

import pymysql
from pymysql.constants import CLIENT

port, threads, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
failed = []


def work(t):
    try:
        c = pymysql.connect(host="127.0.0.1", port=port, user="obs", password="obs",
                            database="shop", client_flag=CLIENT.MULTI_STATEMENTS)
        cur = c.cursor()
        for i in range(rounds):
            cur.execute("SELECT %s + 1", (i,))
            assert cur.fetchone()[0] == i + 1
            cur.execute("INSERT INTO items VALUES (%s, 'x') ON DUPLICATE KEY UPDATE v = 'y'",
                        (t * 100000 + i,))
            cur.execute("SELECT seq, REPEAT('z', 100) FROM seq_1_to_2000")
            assert len(cur.fetchall()) == 2000
            cur.execute("INSERT INTO log VALUES (1); INSERT INTO log VALUES (2)")
            while cur.nextset():
                pass
            c.commit()
            try:
                cur.execute("SELECT * FROM nosuch")
            except pymysql.MySQLError:
                c.rollback()
        c.close()
    except Exception as e:  # said, and the run fails
        failed.append(repr(e))


ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("my_load failed:", failed) if failed else print("my_load ok")
sys.exit(1 if failed else 0)
