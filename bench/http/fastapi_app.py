# SPDX-License-Identifier: MIT
"""The FastAPI side of `make bench-http`: the echo example's /plaintext, /json
and /sleep, written the usual FastAPI way. Run by run.py under uvicorn with
uvloop and httptools, one worker."""
import asyncio

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext():
    return "Hello, World!"


@app.get("/json")
async def json_():
    return {"message": "Hello, World!"}


@app.get("/sleep", response_class=PlainTextResponse)
async def sleep(ms: int = 100):
    await asyncio.sleep(ms / 1000)
    return "Hello, World!"
