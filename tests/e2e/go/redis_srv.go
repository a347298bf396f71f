// A Go net/http service that keeps its data in Redis through Debian's
// redigo (golang-github-gomodule-redigo-dev, built offline with
// GOPATH=/usr/share/gocode), a pool shared by its handlers. No tracing
// code of its own: obs follows it from the kernel side.
//
//	go build -o redis-srv redis_srv.go && ./redis-srv PORT REDIS_PORT
//
//	GET /item/N  SET item:N, GET it back, then a pipeline of 100 INCRs
//	             (MULTI/EXEC on even N); answers the value read
//	GET /bad     an LPUSH on a string key: answers Redis's error
//	GET /big     SET and GET a 300 000-byte value: answers its length
//	GET /get     one GET of item:1 (bench/go-db): answers the value
package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/gomodule/redigo/redis"
)

func item(c redis.Conn, n int) (string, error) {
	key := fmt.Sprintf("item:%d", n)
	if _, err := c.Do("SET", key, strings.Repeat(fmt.Sprintf("value-%d-", n), 50)); err != nil {
		return "", err
	}
	v, err := redis.String(c.Do("GET", key))
	if err != nil {
		return "", err
	}
	multi := n%2 == 0
	if multi {
		c.Send("MULTI")
	}
	for i := 0; i < 100; i++ {
		c.Send("INCR", fmt.Sprintf("hits:%d", n))
	}
	if multi {
		_, err = c.Do("EXEC")
	} else {
		err = c.Flush()
		for i := 0; i < 100 && err == nil; i++ {
			_, err = c.Receive()
		}
	}
	return v, err
}

func main() {
	addr := "127.0.0.1:" + os.Args[2]
	pool := &redis.Pool{
		MaxIdle: 40,
		Dial:    func() (redis.Conn, error) { return redis.Dial("tcp", addr) },
	}
	http.HandleFunc("/item/", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/item/"))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		c := pool.Get()
		defer c.Close()
		v, err := item(c, n)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write([]byte(v))
	})
	http.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		c := pool.Get()
		defer c.Close()
		c.Do("SET", "str", "x")
		_, err := c.Do("LPUSH", "str", "y")
		fmt.Fprint(w, err)
	})
	http.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		c := pool.Get()
		defer c.Close()
		v, err := redis.Bytes(c.Do("GET", "item:1"))
		if err != nil && err != redis.ErrNil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(v)
	})
	http.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		c := pool.Get()
		defer c.Close()
		if _, err := c.Do("SET", "big", strings.Repeat("x", 300000)); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		v, err := redis.Bytes(c.Do("GET", "big"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprint(w, len(v))
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
