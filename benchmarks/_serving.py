"""What the serving benchmarks share: ``labcoat serve`` of a model folder in a subprocess on a
free port, ready once ``/health`` answers, stopped on leaving; and a JSON POST to it."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(folder: Path, log: Path, *args: str, timeout: float = 120) -> Iterator[int]:
    """The port of a fresh ``labcoat serve folder --log log ARGS`` (one worker)."""
    port = free_port()
    command = [sys.executable, "-m", "labcoat", "serve", str(folder), "--port", str(port), "--log", str(log), *args]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("labcoat serve did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def post(port: int, path: str, body: dict) -> dict:
    """The parsed answer of a POST of ``body`` to ``path``."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())
