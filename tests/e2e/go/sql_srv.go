// A Go net/http service that keeps its data in PostgreSQL or MySQL/MariaDB
// through database/sql and Debian's drivers, lib/pq
// (golang-github-lib-pq-dev) and go-sql-driver/mysql
// (golang-github-go-sql-driver-mysql-dev), built offline with
// GOPATH=/usr/share/gocode. No tracing code of its own: obs follows it
// from the kernel side.
//
//	go build -o sql-srv sql_srv.go && ./sql-srv postgres|mysql PORT DSN
//
//	GET /item/N  in one transaction: upserts row N (a parameterized INSERT;
//	             go-sql-driver/mysql prepares it on the server, executes,
//	             closes it), reads it back (a parameterized SELECT),
//	             commits; answers the value read
//	GET /bad     a SELECT from a table that does not exist: answers the
//	             server's code for it (SQLSTATE 42P01; MySQL's 1146)
//	GET /list    the first 20 rows (about 9 KB in one answer, each read
//	             of the driver's holding many messages): answers how many
//	GET /big     one 300 000-byte value: answers its length
//	GET /one     one simple query, a row by a literal id (bench/go-db):
//	             answers the value (empty if none)
package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/lib/pq"
)

// the two dialects' upsert and placeholders
var upsert, get string

func item(db *sql.DB, n int) (string, error) {
	tx, err := db.Begin()
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	v := strings.Repeat(fmt.Sprintf("value-%d-", n), 50)
	if _, err := tx.Exec(upsert, n, v); err != nil {
		return "", err
	}
	var got string
	if err := tx.QueryRow(get, n).Scan(&got); err != nil {
		return "", err
	}
	return got, tx.Commit()
}

func main() {
	upsert, get = "INSERT INTO items VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v",
		"SELECT v FROM items WHERE id = $1"
	if os.Args[1] == "mysql" {
		upsert, get = "INSERT INTO items VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)",
			"SELECT v FROM items WHERE id = ?"
	}
	db, err := sql.Open(os.Args[1], os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(40)
	http.HandleFunc("/item/", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/item/"))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		v, err := item(db, n)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write([]byte(v))
	})
	http.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		_, err := db.Exec("SELECT * FROM nosuch")
		if e, ok := err.(*pq.Error); ok {
			w.Write([]byte(e.Code))
			return
		}
		if e, ok := err.(*mysql.MySQLError); ok {
			fmt.Fprint(w, e.Number)
			return
		}
		http.Error(w, fmt.Sprint("no error code: ", err), 500)
	})
	http.HandleFunc("/list", func(w http.ResponseWriter, r *http.Request) {
		rows, err := db.Query("SELECT id, v FROM items ORDER BY id LIMIT 20")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		fmt.Fprint(w, n)
	})
	http.HandleFunc("/one", func(w http.ResponseWriter, r *http.Request) {
		var v string
		err := db.QueryRow("SELECT v FROM items WHERE id = 1").Scan(&v)
		if err != nil && err != sql.ErrNoRows {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write([]byte(v))
	})
	http.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		var v string
		if err := db.QueryRow("SELECT REPEAT('x', 300000)").Scan(&v); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, len(v))
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[2], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
