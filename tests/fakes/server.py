"""A local HTTP server on 127.0.0.1 in a daemon thread: the lifecycle both fakes share."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open many connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 256


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
