"""A middle service of the context conformance matrix on Python asyncio
(aiohttp, Debian's python3-aiohttp), with no tracing code of its own: each
request waits 1-15 ms, then calls the leaf with the same path.

  /usr/bin/python3 aio_mid.py PORT LEAF_URL
"""
import asyncio
import random
import sys

from aiohttp import ClientSession, web

PORT, LEAF = int(sys.argv[1]), sys.argv[2]


async def handler(request):
    await asyncio.sleep(random.randint(1, 15) / 1000)
    async with request.app["session"].get(LEAF + request.path) as r:
        body = await r.text()
    return web.Response(text=body)


async def session(app):
    app["session"] = ClientSession()
    yield
    await app["session"].close()


app = web.Application()
app.router.add_get("/{tail:.*}", handler)
app.cleanup_ctx.append(session)
web.run_app(app, host="127.0.0.1", port=PORT, print=None, access_log=None)
