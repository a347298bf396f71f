# A PostgreSQL load for the ASan run (scripts/test.sh): THREADS threads,
# each on its own connection (psycopg2), ROUNDS rounds of a query, an
# upsert, a 2000-row result (its DataRows split across reads), two
# statements in one query and an error, then prints "pg_load ok".
#   python3 pg_load.py DSN THREADS ROUNDS
import sys
import threading

import psycopg2

dsn, threads, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
failed = []


def work(t):
    try:
        c = psycopg2.connect(dsn)
        cur = c.cursor()
        for i in range(rounds):
            cur.execute("SELECT %s::int + 1", (i,))
            assert cur.fetchone()[0] == i + 1
            cur.execute("INSERT INTO items VALUES (%s, 'x') ON CONFLICT (id) DO UPDATE SET v = 'y'", (t * 100000 + i,))
            cur.execute("SELECT g, repeat('z', 100) FROM generate_series(1, 2000) g")
            assert len(cur.fetchall()) == 2000
            cur.execute("INSERT INTO log VALUES (1); INSERT INTO log VALUES (2)")
            c.commit()
            try:
                cur.execute("SELECT * FROM nosuch")
            except psycopg2.Error:
                c.rollback()
        c.close()
    except Exception as e:  # said, and the run fails
        failed.append(repr(e))


ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("pg_load failed:", failed) if failed else print("pg_load ok")
sys.exit(1 if failed else 0)
