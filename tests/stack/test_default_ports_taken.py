"""No test may depend on a default port being free: the stack tests pass while 127.0.0.1:8000 and :8050
are taken, as they are when the user's own stack from ``make run`` is up during ``make test``."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from stack.settings import StackSettings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PORTS = (
    StackSettings.model_fields["api_port"].default,
    StackSettings.model_fields["dashboard_port"].default,
)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def occupy(port: int) -> Iterator[None]:
    """Listen on 127.0.0.1:``port`` (nothing accepts: like a server that is busy), or leave it to whatever
    already listens there (the condition this test wants is met either way)."""
    with socket.socket() as server:
        try:
            server.bind(("127.0.0.1", port))
        except OSError:
            if not listening(port):
                pytest.skip(f"port {port} can neither be bound nor is anything listening on it")
            yield
            return
        server.listen()
        yield


def test_the_stack_tests_pass_while_the_default_ports_are_taken() -> None:
    assert DEFAULT_PORTS == (8000, 8050)
    with ExitStack() as taken:
        for port in DEFAULT_PORTS:
            taken.enter_context(occupy(port))
        assert all(listening(port) for port in DEFAULT_PORTS)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/stack",
             f"--ignore={Path(__file__).relative_to(REPO)}"],
            cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout.splitlines()[-1]
