# SPDX-License-Identifier: MIT
"""The FastAPI side of `make bench-web`: bench/web/server.c's --mode web, the usual
FastAPI way. 99 filler routes, then GET /search with two validated query params,
answering {"number":N,"name":"..."}. Run by run.py under uvicorn with uvloop and
httptools, one worker."""
from fastapi import FastAPI, Query

app = FastAPI(title="bench-web", version="1.0")


def _filler(i):
    async def filler(id: int):
        return {"id": id}
    filler.__name__ = f"filler_{i}"
    return filler


# The fillers come first, as in server.c: Starlette tries routes in order.
for _i in range(99):
    app.get(f"/r{_i}/items/{{id}}")(_filler(_i))


@app.get("/search")
async def search(number: int = Query(ge=1, le=1000), name: str = Query(max_length=20)):
    return {"number": number, "name": name}
