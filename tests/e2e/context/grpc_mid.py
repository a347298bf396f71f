"""A middle service of the context conformance matrix on python3-grpcio,
no tracing code of its own: each call waits 1-15 ms on the server's thread
pool, then calls the leaf's /demo.Echo/Unary with the same message on one
shared channel.

  /usr/bin/python3 grpc_mid.py PORT LEAF_HOST:PORT
"""
import random
import sys
import time
from concurrent import futures

import grpc

PORT, LEAF = int(sys.argv[1]), sys.argv[2]
channel = grpc.insecure_channel(LEAF)
leaf = channel.unary_unary("/demo.Echo/Unary")


def unary(req, ctx):
    time.sleep(random.randint(1, 15) / 1000)
    return leaf(req, timeout=10)


handler = grpc.method_handlers_generic_handler(
    "demo.Echo", {"Unary": grpc.unary_unary_rpc_method_handler(unary)})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
server.add_generic_rpc_handlers((handler,))
server.add_insecure_port("127.0.0.1:%d" % PORT)
server.start()
server.wait_for_termination()
