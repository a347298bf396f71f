// A Go net/http service for the --go-inject tests: each request makes one
// outgoing call from its handler, as a middle service does, and says what
// it sent, so that the test can hold what arrived to it byte for byte.
//
//	go build -o inject-srv inject_srv.go && ./inject-srv PORT LEAF_URL
//
// An https LEAF_URL is called without checking its certificate (a test's).
//
// GET /call?size=N&pad=M&own=1  POSTs N bytes (a pattern) to LEAF_URL, with
//
//	an X-Pad header of M bytes and, with own=1, a
//	traceparent of its own; answers
//	"sent <sha256> <N>\n" then the leaf's answer
//
// GET /fionread               connects to LEAF_URL's host, writes a request,
//
//	and waits until ioctl(FIONREAD) says the answer's
//	bytes are there; answers "fionread <n> read <m>"
//	(equal, and above 0, when FIONREAD works)
package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const ownTP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + (i*7+i/251)%26)
	}
	return b
}

func call(leaf string, w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("size"))
	pad, _ := strconv.Atoi(q.Get("pad"))
	b := body(n)
	req, err := http.NewRequest("POST", leaf+"/sink", bytes.NewReader(b))
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	if pad > 0 {
		req.Header.Set("X-Pad", strings.Repeat("p", pad))
	}
	if q.Get("own") == "1" {
		req.Header.Set("traceparent", ownTP)
	}
	resp, err := client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	fmt.Fprintf(w, "sent %x %d\n%s", sha256.Sum256(b), n, got)
}

func fionread(fd uintptr) int {
	var n int32
	syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	return int(n)
}

func fionreadCheck(leaf string, w http.ResponseWriter) {
	u, _ := url.Parse(leaf)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /small HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", u.Host)
	rc, _ := c.(*net.TCPConn).SyscallConn()
	avail := 0
	for i := 0; i < 200 && avail == 0; i++ {
		time.Sleep(10 * time.Millisecond)
		rc.Control(func(fd uintptr) { avail = fionread(fd) })
	}
	got, _ := io.ReadAll(c)
	fmt.Fprintf(w, "fionread %d read %d\n", avail, len(got))
}

var client = &http.Client{Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
}}

func main() {
	leaf := os.Args[2]
	http.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) { call(leaf, w, r) })
	http.HandleFunc("/fionread", func(w http.ResponseWriter, r *http.Request) { fionreadCheck(leaf, w) })
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil); err != nil {
		os.Exit(1)
	}
}
