"""A reverse proxy on 127.0.0.1 that records every HTTP exchange passing through it.

To learn exactly what a real client sends (method, path and query, headers, body) and
what a real server answers, put this between them: point the client at ``proxy.url``
instead of the server. Nothing is rewritten except what HTTP requires of a proxy (the
Host header, hop-by-hop headers, and a Content-Length for the body it relays).

    with RecordingProxy(peer.url) as proxy:
        run_client(endpoint=proxy.url)
        for exchange in proxy.take():
            print(exchange.method, exchange.target, exchange.status)
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Exchange", "RecordingProxy"]

HOST = "127.0.0.1"
# RFC 9110 7.6.1: meaningful for one connection only, so never relayed.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    }  # fmt: skip
)
UPSTREAM_TIMEOUT = 600.0

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request as the client sent it and the answer as the server gave it."""

    method: str
    target: str  # path with query, as on the request line
    request_headers: Headers
    request_body: bytes
    status: int
    response_headers: Headers
    response_body: bytes

    def request_header(self, name: str) -> str | None:
        return _find(self.request_headers, name)

    def response_header(self, name: str) -> str | None:
        return _find(self.response_headers, name)


class RecordingProxy:
    """Relays to ``upstream`` (``http://host:port``) and keeps each exchange, in order."""

    def __init__(self, upstream: str, port: int = 0) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or parsed.hostname is None:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream = (parsed.hostname, parsed.port or 80)
        self._exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((HOST, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> RecordingProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def take(self) -> list[Exchange]:
        """The exchanges recorded since the last ``take``, oldest first."""
        with self._lock:
            taken, self._exchanges = self._exchanges, []
        return taken

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(_RelayHandler):
            owner = proxy

        return Handler


class _RelayHandler(BaseHTTPRequestHandler):
    owner: RecordingProxy
    protocol_version = "HTTP/1.1"  # keep-alive, as the client has with the server

    def do_GET(self) -> None:
        self._relay()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the exchanges are the log."""

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sent = tuple((k, v) for k, v in self.headers.items())
        status, answer_headers, answer = self._ask_upstream(sent, body)
        self.owner._record(
            Exchange(self.command, self.path, sent, body, status, answer_headers, answer)
        )
        self.send_response_only(status)
        for name, value in answer_headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    def _ask_upstream(self, sent: Headers, body: bytes) -> tuple[int, Headers, bytes]:
        host, port = self.owner.upstream
        conn = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT)
        try:
            relayed = {k: v for k, v in sent if k.lower() not in HOP_BY_HOP}
            if body or "content-length" in (k.lower() for k, _ in sent):
                relayed["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body or None, headers=relayed)
            resp = conn.getresponse()
            return resp.status, tuple(resp.getheaders()), resp.read()
        finally:
            conn.close()


def _find(headers: Headers, name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers if k.lower() == wanted), None)
