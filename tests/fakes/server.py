"""A local HTTP server on 127.0.0.1 in a daemon thread: the lifecycle both fakes share."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open many connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 256


def trickle(handler: BaseHTTPRequestHandler, *, interval: float, phase: str, stopping: threading.Event) -> None:
    """A hostile server: the status line, then one byte per ``interval`` seconds, forever.

    ``phase="headers"`` trickles an endless header line; ``phase="body"`` sends complete
    headers (Content-Length 64 KB) and trickles the body. It stops when the client hangs up
    or the server stops.
    """
    handler.close_connection = True
    try:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        if phase == "body":
            handler.wfile.write(b"Content-Type: application/json\r\nContent-Length: 65536\r\n\r\n{")
        else:
            handler.wfile.write(b"X-Padding: ")
        handler.wfile.flush()
        while not stopping.wait(interval):
            handler.wfile.write(b" ")
            handler.wfile.flush()
    except OSError:
        pass  # the client gave up: what a deadline is for


def huge_body(handler: BaseHTTPRequestHandler, *, size: int, declare_length: bool, stopping: threading.Event) -> None:
    """``size`` bytes of a JSON-looking body in 64 KB writes, with or without Content-Length."""
    handler.close_connection = True
    chunk = b"[" + b"0," * (32 * 1024 - 1) + b"0"
    try:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declare_length:
            handler.send_header("Content-Length", str(size))
        handler.send_header("Connection", "close")
        handler.end_headers()
        sent = 0
        while sent < size and not stopping.is_set():
            handler.wfile.write(chunk[: size - sent])
            sent += len(chunk)
        handler.wfile.flush()
    except OSError:
        pass  # the client stopped reading at its cap


class BackgroundServer:
    """start()/stop() and ``with``; subclasses give ``handler_class()`` and set host and port."""

    host: str = "127.0.0.1"
    port: int = 0
    thread_name = "fake-server"
    _httpd: LocalServer | None = None
    _thread: threading.Thread | None = None

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        self._httpd = LocalServer((self.host, self.port), self.handler_class())
        self.port = self._httpd.server_address[1]
        # A short poll interval keeps stop() quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_until_interrupted(self, banner: str) -> None:
        """Standalone use (a demo, a benchmark by hand): serve until Ctrl-C."""
        self.start()
        print(banner.format(base_url=self.base_url), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
