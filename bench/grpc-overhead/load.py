"""Closed-loop gRPC load for bench/grpc-overhead: T threads issue unary
calls on one channel (one HTTP/2 connection) for S seconds.

  load.py PORT SECONDS THREADS   -> "calls=N rate=R/s p50_us=X p99_us=Y errors=E"
"""
import sys
import threading
import time

import grpc


def main():
    port, secs, nthreads = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    ch = grpc.insecure_channel("127.0.0.1:%d" % port)
    call = ch.unary_unary("/demo.Echo/Unary")
    call(b"warm", timeout=10)
    stop = time.monotonic() + secs
    lat, errors, lock = [], [0], threading.Lock()

    def worker():
        mine = []
        while time.monotonic() < stop:
            t = time.perf_counter_ns()
            try:
                call(b"hi", timeout=10)
            except grpc.RpcError:
                with lock:
                    errors[0] += 1
            mine.append(time.perf_counter_ns() - t)
        with lock:
            lat.extend(mine)

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    el = time.monotonic() - t0
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] / 1000 if lat else 0
    print("calls=%d rate=%.1f p50_us=%.0f p99_us=%.0f errors=%d"
          % (len(lat), len(lat) / el, q(0.5), q(0.99), errors[0]))
    ch.close()


if __name__ == "__main__":
    main()
