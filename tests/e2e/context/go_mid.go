// A middle service of the context conformance matrix: Go net/http server
// and client, no tracing code of its own. Each request waits 1-15 ms on
// its goroutine, then calls the leaf with the same path. obs follows it
// from the kernel side (Go makes its own syscalls).
//
//	go build -o go-mid go_mid.go && ./go-mid PORT LEAF_URL
package main

import (
	"io"
	"math/rand"
	"net/http"
	"os"
	"time"
)

func main() {
	leaf := os.Args[2]
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(1+rand.Intn(15)) * time.Millisecond)
		resp, err := http.Get(leaf + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		w.Write(body)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil); err != nil {
		os.Exit(1)
	}
}
