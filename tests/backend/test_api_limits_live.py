"""Over a real socket to uvicorn: oversize uploads are refused before the body has been read."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from backend.settings import Settings

CHUNK = 64 * 1024
CHUNKS = 64  # 4 MiB, sixteen times the test cap of 0.25 MiB


def open_socket(url: str) -> socket.socket:
    parsed = urlparse(url)
    return socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 80), timeout=10)


def read_response(sock: socket.socket, already: bytes = b"") -> bytes:
    """One HTTP response (headers plus Content-Length body), whether or not the server closes."""
    data = already
    sock.settimeout(5)
    while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length and (chunk := sock.recv(65536)):
        body += chunk
    return head + b"\r\n\r\n" + body


def test_chunked_upload_is_answered_413_long_before_its_end(live_api: str, api_settings: Settings) -> None:
    boundary = "dnetboundary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'.encode()
    with open_socket(live_api) as sock:
        sock.sendall(
            b"POST /api/datasets HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
            + f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode()
            + f"{len(head):x}\r\n".encode() + head + b"\r\n"
        )  # fmt: skip
        sent, early = 0, b""
        sock.settimeout(0.05)
        for _ in range(CHUNKS):
            try:
                sock.sendall(f"{CHUNK:x}\r\n".encode() + b"y" * CHUNK + b"\r\n")
                sent += CHUNK
                early = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if early:
                break
        response = read_response(sock, early)
    assert response.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 413 "), response[:200]
    assert b'"detail":"request body exceeds' in response
    assert b"connection: close" in response.lower()
    assert sent < CHUNKS * CHUNK / 2, f"server read {sent} bytes before refusing"
    assert sent <= api_settings.max_upload_bytes + 4 * CHUNK + 64 * 1024


def test_declared_oversize_is_refused_without_reading_the_body(live_api: str, api_settings: Settings) -> None:
    declared = api_settings.max_upload_bytes * 10
    with open_socket(live_api) as sock:
        sock.sendall(
            b"POST /api/datasets HTTP/1.1\r\nHost: test\r\n"
            + f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {declared}\r\n\r\n".encode()
        )  # no body at all: the answer must come from the header alone
        response = read_response(sock)
    assert response.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 413 "), response[:200]
    assert b"exceeds" in response
