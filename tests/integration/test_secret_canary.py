"""Canary: planted secrets never leave a run, in any form, through any output (issue 17, item 4).

Secrets are planted where the tool reads them: a proxy URL in the environment with and without a scheme,
machine.config ``proxyaddress``, a recorded ``netsh winhttp show proxy`` output, ``--proxy-user`` with
``--proxy-password-env``, ``account --password-env``, and a password long enough to wrap. A real loopback
proxy (a hostile peer) answers with the Basic token it was sent echoed in its reason phrase, a header and the
body, with Rich markup and terminal escapes around it. Every run's stdout, stderr and ``--output`` file, in
human (narrow, so long values wrap) and JSON modes, the HTML report included, is scanned for every form of every secret
(``tests/infra/secret_scan.py``: plain, URL-encoded, JSON/HTML-escaped, Basic token, base64, split across
lines).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.infra.secret_scan import Planted, assert_no_secret, scan

ENV_PW = "EnvCanary-w1th-Scheme"
BARE_PW = "EnvCanary-n0-Scheme"
MACHINE_PW = "MachineCanary-pr0xyaddress"
NETSH_PW = "NetshCanary-w1nhttp"
PROXY_PW = "OptionCanary-pr0xy-p@ss:word/x"
ACCOUNT_PW = "AccountCanary-s1gn-in"
LONG_PW = "LongCanary-" + "".join(f"{i:02d}q" for i in range(60))  # 191 characters: wraps at any width

PLANTED = [
    Planted(ENV_PW, ("envuser",), "env proxy URL with scheme"),
    Planted(BARE_PW, ("bareuser",), "env proxy URL without scheme"),
    Planted(MACHINE_PW, ("machineuser",), "machine.config proxyaddress"),
    Planted(NETSH_PW, ("netshuser",), "netsh output"),
    Planted(PROXY_PW, ("canaryuser",), "--proxy-password-env"),
    Planted(ACCOUNT_PW, ("canary@contoso.com",), "account --password-env"),
    Planted(LONG_PW, ("longuser",), "long password"),
]

HOSTILE_REASON = "[/] [link=http://evil.example]x[/link] \x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ \x1b[2J"


class EchoingProxy:
    """A proxy that asks for Basic and then echoes the credentials it gets, wrapped in markup and escapes."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.echoed = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            data = conn.recv(4096)
            if not data:
                return
            head += data
        lines = head.decode("latin-1").split("\r\n")
        auth = next((line.split(":", 1)[1].strip() for line in lines
                     if line.lower().startswith("proxy-authorization:")), None)
        if auth is None:
            conn.sendall((f"HTTP/1.1 407 Who are you {HOSTILE_REASON}\r\n"
                          f'Proxy-Authenticate: Basic realm="echo {HOSTILE_REASON}"\r\n'
                          "Content-Length: 0\r\nConnection: close\r\n\r\n").encode("latin-1"))
            return
        self.echoed += 1
        body = f"you sent Proxy-Authorization: {auth}\nand the token alone: {auth.split()[-1]}\n".encode()
        conn.sendall((f"HTTP/1.1 403 You sent {auth} {HOSTILE_REASON}\r\nX-Echo: {auth}\r\n"
                      f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                      ).encode("latin-1") + body)

    def close(self) -> None:
        self.server.close()
        self._thread.join(5)


@pytest.fixture(scope="session")
def echoing_proxy() -> Iterator[EchoingProxy]:
    proxy = EchoingProxy()
    yield proxy
    proxy.close()


def _machine_config(folder: Path) -> Path:
    path = folder / "machine.config"
    path.write_text('<configuration><system.net><defaultProxy><proxy proxyaddress='
                    f'"machineuser:{MACHINE_PW}@proxy.corp:8080" bypassonlocal="true"/></defaultProxy>'
                    "</system.net></configuration>", encoding="utf-8")
    return path


def _netsh(folder: Path) -> Path:
    path = folder / "netsh.txt"
    path.write_bytes(("\r\nCurrent WinHTTP proxy settings:\r\n\r\n"
                      f"    Proxy Server(s) :  netshuser:{NETSH_PW}@proxy.corp:8080\r\n"
                      "    Bypass List     :  <local>\r\n\r\n").encode("utf-16"))
    return path


def _runs(run_cli: Callable[..., object], folder: Path, args: list[str], env: dict[str, str]) -> list[object]:
    """The same command in human mode (narrow and wide) and JSON mode, each with --output (the wide run's an HTML
    report, the others JSON)."""
    items: list[object] = []
    for number, (mode, columns) in enumerate(((None, "40"), (None, "200"), ("--json", "80"))):
        output = folder / f"report{number}.{'html' if number == 1 else 'json'}"
        run = run_cli(*args, *([mode] if mode else []), "--output", str(output), env={**env, "COLUMNS": columns})
        assert run.code not in (3, 4), run.stderr  # type: ignore[attr-defined]
        items += [(f"{args[0]} stdout {mode or columns}", run.stdout), (f"{args[0]} stderr", run.stderr),  # type: ignore[attr-defined]
                  output]
    return items


def test_no_planted_secret_leaves_any_output(run_cli, tmp_path, echoing_proxy):
    env = {"https_proxy": f"bareuser:{BARE_PW}@proxy.corp:8080", "HTTP_PROXY": f"http://envuser:{ENV_PW}@proxy.corp:3128",
           "ALL_PROXY": f"http://longuser:{LONG_PW}@proxy.corp:8080",
           "PROXY_PW": PROXY_PW, "ACCOUNT_PW": ACCOUNT_PW}
    items: list[object] = []
    items += _runs(run_cli, tmp_path, ["proxy", "--machine-config", str(_machine_config(tmp_path)),
                                       "--winhttp", str(_netsh(tmp_path))], env)
    items += _runs(run_cli, tmp_path, ["proxy", "--winhttp", str(_netsh(tmp_path))],
                   {**env, "https_proxy": f"longuser:{LONG_PW}@proxy.corp:8080"})
    before = echoing_proxy.echoed
    items += _runs(run_cli, tmp_path, ["check", "--proxy", echoing_proxy.url, "--proxy-user", "canaryuser",
                                       "--proxy-password-env", "PROXY_PW", "--proxy-auth", "basic", "--timeout", "5",
                                       "--endpoint", "https://login.microsoftonline.com/"], env)
    assert echoing_proxy.echoed > before, "the proxy never got the Basic token: nothing was echoed"
    items += _runs(run_cli, tmp_path, ["account", "canary@contoso.com", "--password-env", "ACCOUNT_PW",
                                       "--proxy", echoing_proxy.url, "--proxy-user", "canaryuser",
                                       "--proxy-password-env", "PROXY_PW", "--timeout", "5"], env)
    items += _runs(run_cli, tmp_path, ["check", "--proxy", f"longuser:{LONG_PW}@[bad", "--timeout", "1"], env)
    assert_no_secret(PLANTED, items)


def test_the_scanner_finds_every_form_it_promises():
    """The scanner is the test: it must see each form, also split across wrapped lines and inside escapes."""
    import base64
    from urllib.parse import quote

    planted = Planted("Scanner-Canary:p@ss/word", ("bob",))
    token = base64.b64encode(b"bob:Scanner-Canary:p@ss/word").decode()
    for text in ("x Scanner-Canary:p@ss/word y", quote("Scanner-Canary:p@ss/word", safe=""),
                 f"Proxy-Authorization: Basic {token}", token.rstrip("="),
                 "│ Scanner-Cana │\n│ ry:p@ss/word │", "\x1b[1mScanner-\x1b[0mCanary:p@ss/word",
                 base64.b64encode(b"DOMAIN\\someone:Scanner-Canary:p@ss/word").decode()):
        assert scan([planted], [text]), text
    assert not scan([planted], ["Scanner-Canary:***"])
