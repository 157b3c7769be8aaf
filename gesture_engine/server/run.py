"""Running the service: one socket bound here, one or more worker processes serving it with uvicorn.

Workers are forked by this small supervisor rather than by uvicorn's, so that signals mean what the
service needs: ``SIGHUP`` is passed to every worker, and each reloads its policy in place (an invalid
policy is refused and the old one keeps serving; uvicorn's own supervisor would restart the workers
instead, and a worker cannot start on a broken policy). ``SIGTERM``/``SIGINT`` are passed on too: each
worker stops accepting, finishes its in-flight requests (up to ``graceful_seconds``) and exits. Workers keep
their metrics in a temporary directory the supervisor makes and removes (prometheus_client's multiprocess
mode), so a scrape of any worker counts them all.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import replace
from typing import Any

import uvicorn
from prometheus_client.multiprocess import mark_process_dead

from gesture_engine.server.app import ServerConfig, Service, create_app

log = logging.getLogger("gesture.serve")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _uvicorn(app: Any, graceful_seconds: float, max_header_bytes: int) -> uvicorn.Server:
    config = uvicorn.Config(app, lifespan="on", access_log=False, log_config=None, server_header=False, date_header=False,
                            timeout_graceful_shutdown=round(graceful_seconds), timeout_keep_alive=5,
                            h11_max_incomplete_event_size=max_header_bytes, proxy_headers=False)
    return uvicorn.Server(config)


def _worker(config: ServerConfig, sock: socket.socket, graceful_seconds: float, max_header_bytes: int) -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the application handles it: a reload, never a kill
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor turns Ctrl-C into one SIGTERM per worker
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # restored by uvicorn after its graceful stop, then raised again
    service = Service(config)
    _uvicorn(create_app(config, service), graceful_seconds, max_header_bytes).run(sockets=[sock])


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 8080, workers: int = 1, *,
          graceful_seconds: float = 30.0, max_header_bytes: int = 16 * 1024) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit status. The policy is loaded (and refused) before binding."""
    Service(config).close()  # load and check once here, so a broken policy stops before any worker starts
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    metrics_dir = tempfile.mkdtemp(prefix="gesture-metrics-") if workers > 1 else None
    log.warning(json.dumps({"event": "listening", "url": f"http://{host}:{actual}", "workers": workers, "pid": os.getpid(),
                            "auth": "off" if config.tokens is None else "bearer", **({"metrics_dir": metrics_dir} if metrics_dir else {})}))
    if metrics_dir is None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        _uvicorn(create_app(config), graceful_seconds, max_header_bytes).run(sockets=[sock])
        return 0
    try:
        _supervise(replace(config, metrics_dir=metrics_dir), sock, workers, graceful_seconds, max_header_bytes)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        sock.close()
    return 0


def _supervise(config: ServerConfig, sock: socket.socket, workers: int, graceful_seconds: float, max_header_bytes: int) -> None:
    """Run ``workers`` worker processes on ``sock`` until SIGTERM/SIGINT, passing signals on and replacing any that dies."""
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_worker, args=(config, sock, graceful_seconds, max_header_bytes), daemon=False)
                 for _ in range(workers)]
    stopping = False

    def forward(signum: int, frame: Any) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM if signum == signal.SIGINT else signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    for process in processes:
        process.start()
    while not stopping:
        time.sleep(0.2)
        for index, process in enumerate(processes):
            if not process.is_alive() and not stopping:  # a worker died: start another in its place
                log.error(json.dumps({"event": "worker_exited", "pid": process.pid, "code": process.exitcode}))
                mark_process_dead(process.pid, config.metrics_dir)  # type: ignore[no-untyped-call]  # its counts stay; its "policy in use" goes
                time.sleep(1.0)  # no busy loop if workers cannot start
                processes[index] = context.Process(target=_worker, args=(config, sock, graceful_seconds, max_header_bytes))
                processes[index].start()
    for process in processes:
        process.join(graceful_seconds + 5)
