"""The recording proxy relays faithfully and records what the client sent."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from berthing.devtools.recording_proxy import RecordingProxy


class Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received, and a header of its own."""

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        seen = {
            "method": self.command,
            "path": self.path,
            "body": self.rfile.read(length).decode(),
            "version": self.headers.get("OpenStack-API-Version"),
        }
        answer = json.dumps(seen).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("openstack-api-version", "placement 1.39")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def call(
    url: str, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    out = resp.status, dict(resp.getheaders()), resp.read()
    conn.close()
    return out


def test_relays_and_records_each_exchange(upstream: str) -> None:
    with RecordingProxy(upstream) as proxy:
        status, headers, body = call(
            proxy.url,
            "POST",
            "/resource_providers?x=a%3Ab",
            b'{"name": "n"}',
            {"Content-Type": "application/json", "OpenStack-API-Version": "placement 1.39"},
        )
        call(proxy.url, "DELETE", "/traits/CUSTOM_X", b"", {"Content-Length": "0"})
        first, second = proxy.take()
        assert proxy.take() == []
    assert status == 201
    assert headers["openstack-api-version"] == "placement 1.39"
    assert json.loads(body) == {
        "method": "POST",
        "path": "/resource_providers?x=a%3Ab",
        "body": '{"name": "n"}',
        "version": "placement 1.39",
    }
    assert (first.method, first.target, first.request_body) == (
        "POST",
        "/resource_providers?x=a%3Ab",
        b'{"name": "n"}',
    )
    assert first.request_header("content-type") == "application/json"
    assert first.status == 201 and json.loads(first.response_body)["method"] == "POST"
    assert (second.method, second.request_body, second.request_header("Content-Length")) == (
        "DELETE",
        b"",
        "0",
    )


def test_refuses_an_upstream_that_is_not_http() -> None:
    with pytest.raises(ValueError, match="http://host:port"):
        RecordingProxy("https://example.invalid")
