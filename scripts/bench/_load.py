"""A lean HTTP/1.1 load generator for the ingest benchmark (not a benchmark itself:
`make bench` skips `_*.py`).

Run as a process of its own, so that its CPU is not the server's and not the
benchmark's: it reads request bodies (one per line) from a file, opens ``--concurrency``
keep-alive connections to the server, and keeps one request in flight on each until
every body is sent. Each request's latency is measured from just before its bytes are
written to just after the whole response is read. It prints one JSON object: wall
seconds from the first write to the last response, the latencies in seconds, the
status counts, the first few error bodies, and the CPU seconds it used.

    python _load.py --port 8000 --path /v1/records --token T --bodies FILE --concurrency 50

Requests and responses are handled by hand (Content-Length framing only, which is all
uvicorn sends for these routes) so that the client costs little next to the server:
httpx from 50 threads used more CPU than the server it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time


async def _worker(host: str, port: int, requests: list[bytes], next_index: list[int], out: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while next_index[0] < len(requests):
            i = next_index[0]
            next_index[0] += 1
            t0 = time.perf_counter()
            writer.write(requests[i])
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            out["latencies"][i] = time.perf_counter() - t0
            out["statuses"][str(status)] = out["statuses"].get(str(status), 0) + 1
            if status >= 400 and len(out["errors"]) < 5:
                out["errors"].append(f"{status} {body[:300].decode(errors='replace')}")
    finally:
        writer.close()


async def _run(a: argparse.Namespace) -> dict:
    bodies = [line.rstrip(b"\n") for line in open(a.bodies, "rb") if line.strip()]
    head = (
        f"POST {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\nAuthorization: Bearer {a.token}\r\n"
        "Content-Type: application/json\r\n"
    ).encode()
    requests = [head + b"Content-Length: %d\r\n\r\n" % len(b) + b for b in bodies]
    out: dict = {"latencies": [0.0] * len(requests), "statuses": {}, "errors": []}
    next_index = [0]
    c0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(_worker(a.host, a.port, requests, next_index, out) for _ in range(a.concurrency)))
    out["wall"] = time.perf_counter() - t0
    out["cpu"] = time.process_time() - c0
    out["max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--bodies", required=True)
    p.add_argument("--concurrency", type=int, default=50)
    a = p.parse_args()
    try:
        import uvloop  # noqa: PLC0415 - optional; the client is cheaper with it
    except ImportError:
        result = asyncio.run(_run(a))
    else:
        result = uvloop.run(_run(a))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
