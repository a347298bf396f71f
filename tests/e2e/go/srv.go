// A Go net/http service for the "programs the shim cannot enter" test: Go
// makes its own syscalls, so obs's shim, though loaded, sees none of them.
//
//	go build -o srv srv.go && ./srv PORT
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "go ok")
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
