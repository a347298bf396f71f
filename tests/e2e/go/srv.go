// A Go net/http service for the "programs the shim cannot enter" tests: Go
// makes its own syscalls, so obs's shim, though loaded, sees none of them;
// obs follows it from the kernel side.
//
//	go build -o srv srv.go && ./srv PORT [DOWNSTREAM_URL]
//
// GET /        answers "go ok"
// GET /call    calls DOWNSTREAM_URL, then answers with its status
// GET /fanout  the same call, made from a goroutine of its own
// GET /big     answers 64 KiB (more than kernel-side capture copies)
// POST /echo   answers the body it was sent
//
// SRV_IDLE_CONNS=N keeps up to N idle connections per downstream host
// (net/http's default is 2: under concurrency most calls dial anew).
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func main() {
	down := ""
	if len(os.Args) > 2 {
		down = os.Args[2]
	}
	if n, err := strconv.Atoi(os.Getenv("SRV_IDLE_CONNS")); err == nil && n > 0 {
		http.DefaultTransport.(*http.Transport).MaxIdleConnsPerHost = n
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "go ok")
	})
	call := func(w http.ResponseWriter) {
		resp, err := http.Get(down)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Fprintf(w, "downstream %d\n", resp.StatusCode)
	}
	http.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) {
		call(w)
	})
	http.HandleFunc("/fanout", func(w http.ResponseWriter, r *http.Request) {
		done := make(chan struct{})
		go func() {
			call(w)
			close(done)
		}()
		<-done
	})
	http.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "65536")
		io.WriteString(w, strings.Repeat("x", 65536))
	})
	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
