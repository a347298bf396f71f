// A grpc-go service (Debian's golang-google-grpc-dev, built offline with
// GOPATH=/usr/share/gocode) for the kernel-side capture tests: /demo.Echo/Unary
// answers the bytes it was sent; with a LEAF address it first waits 1-15 ms
// and calls the leaf's /demo.Echo/Unary with them, then answers the leaf's
// answer (the context matrix's middle). Sent "via-NAME", it calls the
// leaf's /demo.Echo/via-NAME instead (which the leaf does not serve) and
// answers the bytes it was sent: the call's method names the request it
// was made for. Messages pass as raw bytes: no
// generated code. GRPC_STREAM_WORKERS=N serves calls on N long-lived
// goroutines, each taking call after call (grpc.NumStreamWorkers), instead
// of a goroutine per call.
//
//	go build -o grpc-srv grpc_srv.go && ./grpc-srv PORT [LEAF_HOST:PORT]
package main

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
)

type raw struct{}

func (raw) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (raw) Unmarshal(b []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (raw) Name() string { return "proto" }

var leaf *grpc.ClientConn

func unary(srv interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
	var in []byte
	if err := dec(&in); err != nil {
		return nil, err
	}
	if leaf == nil {
		return &in, nil
	}
	time.Sleep(time.Duration(1+rand.Intn(15)) * time.Millisecond)
	var out []byte
	if strings.HasPrefix(string(in), "via-") {
		_ = leaf.Invoke(ctx, "/demo.Echo/"+string(in), &in, &out)
		return &in, nil
	}
	if err := leaf.Invoke(ctx, "/demo.Echo/Unary", &in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func main() {
	encoding.RegisterCodec(raw{})
	if len(os.Args) > 2 {
		c, err := grpc.Dial(os.Args[2], grpc.WithInsecure())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		leaf = c
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(16 << 20)}
	if n, err := strconv.Atoi(os.Getenv("GRPC_STREAM_WORKERS")); err == nil && n > 0 {
		opts = append(opts, grpc.NumStreamWorkers(uint32(n)))
	}
	s := grpc.NewServer(opts...)
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "demo.Echo",
		HandlerType: (*interface{})(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Unary", Handler: unary}},
	}, struct{}{})
	s.Serve(l)
}
