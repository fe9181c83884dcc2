"""PAC files (and WPAD ``wpad.dat``): load one and ask its ``FindProxyForURL`` which proxy a URL takes.

The script runs in a child process (``pac_worker``), one per script for the whole run, never in this one:
pypac's JavaScript engine holds the GIL while a script runs, so only killing a separate process stops a
script that loops forever. Each call (loading, and every lookup) has a hard time limit, ``PAC_TIMEOUT_S``, and
all calls together ``PAC_TOTAL_TIMEOUT_S``; a script that overruns either is an input error (exit 2), like one
that does not compile or throws. One lock serialises calls because the worker answers one request at a time
(``check`` probes concurrently).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from aadc_doctor.errors import InputError
from aadc_doctor.proxyconfig.bypass import Target
from aadc_doctor.proxyconfig.textfile import read_text_file
from aadc_doctor.secrets import register_url_credentials

MAX_PAC_BYTES = 2 * 1024 * 1024
DOWNLOAD_TIMEOUT_S = 10.0
PAC_TIMEOUT_S = 10.0  # per call; a real FindProxyForURL answers in well under a millisecond (bench/proxyconfig.py)
PAC_TOTAL_TIMEOUT_S = 30.0  # all calls of one run together (``check`` asks for 20-40 URLs)
WORKER_START_TIMEOUT_S = 60.0  # Python start-up on a loaded server with on-access antivirus scanning
SLOW_HINT = "an endless loop, or slow DNS in dnsResolve/isInNet/isResolvable"


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split())[:300]


def _worker_command() -> list[str]:
    # -P: the current directory is not put on sys.path, so a stray json.py there cannot replace a module
    return [sys.executable, "-P", "-m", "aadc_doctor.proxyconfig.pac_worker"]


# What Python needs to start and find its packages. Nothing else: the script can be hostile (WPAD), and the
# environment may hold secrets (--proxy-password-env).
WORKER_ENVIRONMENT = ("PATH", "SYSTEMROOT", "WINDIR", "TEMP", "TMP", "TMPDIR", "HOME", "USERPROFILE", "APPDATA",
                      "LOCALAPPDATA", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE")


def _worker_environment() -> dict[str, str]:
    """The few variables Python needs, plus the directory this package is imported from (a source checkout)."""
    env = {k: v for k, v in os.environ.items() if k.upper() in WORKER_ENVIRONMENT}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill the worker and reap it (also used by weakref.finalize at exit)."""
    if process.poll() is None:
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _read_replies(stdout: IO[bytes], replies: queue.Queue[bytes]) -> None:
    """Forward the worker's reply lines; b"" when it has gone (a function, so the thread keeps no PacWorker alive)."""
    try:
        for line in iter(stdout.readline, b""):
            replies.put(line)
    except (OSError, ValueError):  # the pipe was closed by PacWorker.close()
        pass
    replies.put(b"")


class PacWorker:
    """One ``pac_worker`` child process; ``request`` sends one JSON request and waits for the reply or kills it."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the worker)
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # Windows: no console window flashes up
        try:
            self._process = subprocess.Popen(_worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=self._stderr, env=_worker_environment(), creationflags=flags)
        except OSError as exc:
            self._stderr.close()
            raise RuntimeError(f"cannot start the PAC worker ({sys.executable}): {exc}") from None
        self._replies: queue.Queue[bytes] = queue.Queue()
        self._failure: InputError | None = None
        self._spent = 0.0  # seconds the script has used so far, against PAC_TOTAL_TIMEOUT_S
        self._calls = 0
        self._finalizer = weakref.finalize(self, _stop, self._process)
        assert self._process.stdout is not None
        threading.Thread(target=_read_replies, args=(self._process.stdout, self._replies), name="pac-worker-reader",
                         daemon=True).start()
        ready = self._reply(WORKER_START_TIMEOUT_S, timeout_message=None)
        if ready.get("ready") is not True:
            self.close()
            raise RuntimeError(f"the PAC worker did not start properly: {ready!r}")

    def _died(self) -> str:
        """Why the worker ended, from its exit code and the end of what it wrote to stderr."""
        code = self._process.wait()
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", errors="replace").strip().splitlines()
        return f"exit code {code}" + (f": {_one_line(lines[-1])}" if lines else "")

    def _reply(self, timeout: float, timeout_message: str | None) -> dict[str, Any]:
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            self.close()
            if timeout_message is None:
                raise RuntimeError(f"the PAC worker did not start within {timeout:g} s") from None
            self._failure = InputError(f"{self.location}: {timeout_message}")
            raise self._failure from None
        if not line:
            reason = self._died()
            self.close()
            if timeout_message is None:
                raise RuntimeError(f"the PAC worker stopped while starting ({reason})")
            self._failure = InputError(f"{self.location}: the PAC script stopped the JavaScript engine ({reason})")
            raise self._failure
        reply = json.loads(line)
        if not isinstance(reply, dict):
            raise RuntimeError(f"the PAC worker answered {line[:200]!r}")
        return reply

    def request(self, message: dict[str, Any], *, timeout: float, timeout_message: str) -> dict[str, Any]:
        """The worker's reply; InputError naming the script when it overran ``timeout`` (the worker is killed)."""
        if self._failure is not None:
            raise self._failure
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(message).encode("utf-8") + b"\n")
            stdin.flush()
        except OSError:
            reason = self._died()
            self.close()
            self._failure = InputError(f"{self.location}: the PAC script stopped the JavaScript engine ({reason})")
            raise self._failure from None
        remaining = PAC_TOTAL_TIMEOUT_S - self._spent
        if remaining < timeout:  # many slow answers (DNS in the script) must not add up to a hang either
            timeout = max(remaining, 0.0)
            timeout_message = (f"the PAC script took more than {PAC_TOTAL_TIMEOUT_S:g} s in total over "
                               f"{self._calls + 1} calls of FindProxyForURL ({SLOW_HINT})")
        started = time.monotonic()
        self._calls += 1
        try:
            reply = self._reply(timeout, timeout_message)
        finally:
            self._spent += time.monotonic() - started
        if reply.get("kind") == "internal":
            raise RuntimeError(f"PAC worker: {reply.get('message')}")
        return reply

    @property
    def pid(self) -> int:
        return self._process.pid

    def close(self) -> None:
        """Stop the worker now (it also stops at exit, or when this object is collected)."""
        self._finalizer()
        self._stderr.close()


@dataclass(frozen=True)
class PacScript:
    """A parsed PAC script, where it came from (a path or a URL), and the worker process that runs it."""

    location: str
    text: str = field(repr=False)
    _worker: PacWorker = field(repr=False, compare=False, hash=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False, hash=False)

    def find_proxy(self, url: str) -> tuple[str | None, ...]:
        """Every choice ``FindProxyForURL`` returns for url, in order: a proxy URL, or None for DIRECT."""
        host = Target.from_url(url).host
        with self._lock:
            reply = self._worker.request(
                {"op": "find", "url": url, "host": host}, timeout=PAC_TIMEOUT_S,
                timeout_message=(f"the PAC script did not answer FindProxyForURL for {url} within {PAC_TIMEOUT_S:g} s "
                                 f"({SLOW_HINT})"))
        if not reply.get("ok"):
            raise InputError(f"{self.location}: FindProxyForURL failed for {url}: {reply.get('message')}")
        return tuple(None if c == "DIRECT" else str(c) for c in reply["choices"]) or (None,)

    def proxy_for(self, url: str) -> str | None:
        """The first choice, which is what .NET and browsers use while that proxy answers."""
        return self.find_proxy(url)[0]

    def close(self) -> None:
        """Stop the worker process (done anyway at exit)."""
        self._worker.close()


def parse_pac(text: str, location: str) -> PacScript:
    """Compile PAC JavaScript in a new worker; a script that does not define FindProxyForURL is an input error."""
    if text.lstrip("\ufeff \t\r\n").startswith("<"):
        raise InputError(f"{location}: not a PAC file: it starts with '<' (an HTML page such as a login or error "
                         "page, or an XML file), not JavaScript")
    worker = PacWorker(location)
    reply = worker.request(
        {"op": "load", "text": text}, timeout=PAC_TIMEOUT_S,
        timeout_message=(f"the PAC script did not load and answer a first FindProxyForURL call within "
                         f"{PAC_TIMEOUT_S:g} s ({SLOW_HINT})"))
    if not reply.get("ok"):
        worker.close()
        raise InputError(f"{location}: not a valid PAC file: {reply.get('message')}")
    return PacScript(location=location, text=text, _worker=worker)


def load_pac(file_or_url: str, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> PacScript:
    """Read a PAC file from a path, a ``file://`` URL, or download it from an http(s) URL (never via a proxy)."""
    register_url_credentials(file_or_url)  # http://user:password@wpad/proxy.pac
    lower = file_or_url.lower()
    if lower.startswith(("http://", "https://")):
        return parse_pac(_download(file_or_url, timeout), file_or_url)
    path = file_or_url
    if lower.startswith("file://"):
        parts = urlsplit(file_or_url)
        path = unquote(parts.path)  # file:///C:/Proxy%20Files/proxy.pac names "Proxy Files"
        if parts.netloc and parts.netloc.lower() != "localhost":
            path = f"//{parts.netloc}{path}"  # file://server/share/proxy.pac: a UNC path
        elif len(path) > 2 and path[0] == "/" and path[2] == ":":  # file:///C:/proxy.pac
            path = path[1:]
    text = read_text_file(Path(path), what="PAC file", max_bytes=MAX_PAC_BYTES)
    return parse_pac(text, file_or_url)


def _download(url: str, timeout: float) -> str:
    import requests
    import urllib3

    from aadc_doctor.net.deadline import RequestDeadline, deadline_adapter

    # one deadline for the whole download, headers included: a server may drip a byte a second
    watchdog = RequestDeadline(timeout)
    deadline = watchdog.at
    chunks: list[bytes] = []
    size = 0
    try:
        with requests.Session() as session, watchdog:
            session.trust_env = False  # WPAD/PAC is fetched directly, as Windows does
            session.mount("http://", deadline_adapter())
            session.mount("https://", deadline_adapter())
            response = session.get(url, timeout=timeout, stream=True)
            response.raise_for_status()
            with response:
                while chunk := response.raw.read1(64 * 1024, decode_content=True):
                    size += len(chunk)
                    if size > MAX_PAC_BYTES:
                        raise InputError(f"{url}: the PAC file is larger than {MAX_PAC_BYTES // (1024 * 1024)} MiB; "
                                         "refusing it")
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise InputError(f"{url}: cannot download the PAC file: not complete within {timeout:g} s")
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if watchdog.expired:
            raise InputError(f"{url}: cannot download the PAC file: not complete within {timeout:g} s") from None
        raise InputError(f"{url}: cannot download the PAC file: {_download_error(exc, timeout)}") from None
    body = b"".join(chunks)
    try:
        return bytes(body).decode(response.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise InputError(f"{url}: the PAC file is not text") from None


def _download_error(exc: BaseException, timeout: float) -> str:
    """The cause in a few words (``connection refused``), not requests' nested retry wrapper."""
    import requests

    if isinstance(exc, requests.Timeout | TimeoutError) or "timed out" in str(exc):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason or ''}".strip()
    text = str(exc)
    for pattern in (r"\[Errno -?\d+\] ([^'\")\]]+)", r"(Name or service not known|getaddrinfo failed|"
                    r"nodename nor servname provided, or not known|No address associated with hostname)"):
        cause = re.search(pattern, text)
        if cause:
            return cause[1].strip().rstrip(".")
    return _one_line(text)
