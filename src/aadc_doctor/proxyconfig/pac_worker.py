"""The child process that runs one PAC script: ``python -P -m aadc_doctor.proxyconfig.pac_worker``.

pypac's JavaScript engine (dukpy) holds the GIL while a script runs, so a script that loops forever cannot
be stopped from inside the process that runs it. The parent (``pac.PacWorker``) keeps this worker for the
whole run and kills it when a call overruns its time limit.

Protocol: one JSON object per line, UTF-8, on stdin/stdout. The worker first writes ``{"ready": true}``;
then it answers each request with ``{"ok": true, ...}`` or ``{"ok": false, "kind", "message"}``:

- ``{"op": "load", "text": SCRIPT}`` -> ``{"ok": true}``; kind ``malformed`` when the script does not compile
  or defines no ``FindProxyForURL`` (the worker also makes one test call while loading, as pypac does);
- ``{"op": "find", "url": URL, "host": HOST}`` -> ``{"ok": true, "choices": ["DIRECT" | proxy URL, ...]}``;
  kind ``runtime`` when the script throws, ``result`` when it returns something that is not a proxy list.

Kind ``internal`` is a defect of this module, never of the script. The worker exits at end of input.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import warnings
from collections.abc import Callable
from typing import IO, Any

MAX_RESULT_CHARS = 16 * 1024  # "PROXY a:1; PROXY b:2; DIRECT" is tens of characters
MAX_ARGUMENT_CHARS = 1024  # a host name is at most 253 characters; a netmask or a date word far less
MAX_MEMORY_BYTES = 1024 * 1024 * 1024  # address space of this worker (POSIX only): a script's allocation bomb
# The only functions a script can reach outside the engine: the PAC standard's (pypac implements them). The DNS
# ones (dnsResolve, isResolvable, isInNet, myIpAddress and their Ex forms) resolve names, as WinHTTP does for a PAC
# file; nothing else reaches the network, a file, a module or the environment.
def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split())[:300]


def js_error_message(exc: BaseException) -> str:
    """The engine's error without its stack: ``ReferenceError: x is not defined``; a syntax error keeps its line.

    Runtime line numbers are left out: the engine reports some of them wrong (``1:1`` for an undefined function).
    """
    text = str(getattr(exc, "original_exc", None) or exc).strip()
    lines = text.splitlines() or [type(exc).__name__]
    message = lines[0].strip()
    if "FindProxyForURLEx is not defined" in message:
        return "the script defines no FindProxyForURL function"
    if message.startswith("SyntaxError") and len(lines) > 1:
        where = re.search(r"<dukpy>:(\d+):\d+", lines[1])
        if where:
            message += f" (line {where[1]})"
    return _one_line(message)


_INSTALL_BRIDGES = """
(function (bridge, names) {
    names.forEach(function (name) {
        globalThis[name] = function () {
            var args = Array.prototype.slice.call(arguments);
            args.unshift(name);
            return bridge.apply(null, args);
        };
    });
})(globalThis.call_python, dukpy.names);
"""


def _pac_functions() -> dict[str, Callable[..., Any]]:
    """The PAC standard's functions (Netscape's and Microsoft's IPv6 ones), as pypac implements them."""
    from pypac.parser_functions import function_injections
    from pypac.parser_functions_ex import function_injections as ipv6_functions

    return {**function_injections, **ipv6_functions}


class BridgeRefused(Exception):
    """A script asked the engine's bridge to Python for something that is not a PAC function."""


def _checked_arguments(name: str, args: Any) -> list[Any]:
    """Plain, short values only: a PAC function takes host names, addresses, masks and date words."""
    if not isinstance(args, list) or len(args) > 8:
        raise BridgeRefused(f"{name}: too many arguments")
    for value in args:
        if isinstance(value, str) and len(value) > MAX_ARGUMENT_CHARS:
            raise BridgeRefused(f"{name}: an argument of {len(value)} characters")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise BridgeRefused(f"{name}: an argument that is not a string or a number")
    return args


def sandboxed_interpreter() -> Any:
    """A QuickJS context (dukpy) whose only way out is the PAC functions.

    dukpy's own ``JSInterpreter`` gives every script ``call_python`` with ``dukpy.load_module`` (reads any file),
    ``require``, ``process.env``, ``console`` (Python logging) and an ES-module loader. This one is built without
    any of them: the native ``call_python`` (which the engine defines again before every evaluation, so a script
    can always reach it) answers only the names in ``_pac_functions()``, with short plain arguments, and the
    ES-module loader (``import()``) finds nothing.
    """
    from dukpy import _dukpy
    from dukpy.evaljs import JSInterpreter

    functions = _pac_functions()

    class SandboxedInterpreter(JSInterpreter):  # type: ignore[misc]
        def __init__(self) -> None:  # deliberately not JSInterpreter.__init__: no process, console or require
            self._loader = None
            self._ctx = _dukpy.create_context()
            self._funcs = functions

        @property
        def loader(self) -> None:
            raise BridgeRefused("no module loader")

        def _check_exported_function_exists(self, func: bytes) -> bool:
            return func.decode("utf-8", "replace") in functions

        def _call_python(self, func: bytes, json_args: bytes) -> bytes | None:
            name = func.decode("utf-8", "replace")
            if name not in functions:
                raise BridgeRefused(f"no function {name[:80]!r}")
            result = functions[name](*_checked_arguments(name, json.loads(json_args)))
            return None if result is None else json.dumps(result).encode("utf-8")

        def _normalize_module(self, base_name: str, module_name: str) -> str:  # noqa: ARG002 (dukpy's hook)
            raise BridgeRefused("modules are not available to a PAC script")

        def run(self, path: str, **kwargs: Any) -> Any:  # noqa: ARG002 (dukpy's hook)
            raise BridgeRefused("files are not available to a PAC script")

    interpreter = SandboxedInterpreter()
    interpreter.evaljs(_INSTALL_BRIDGES, names=sorted(functions))
    return interpreter


def _limit_memory() -> None:
    """POSIX: cap this worker's address space, so an allocating script fails instead of swapping the machine out.

    Windows has no per-process limit without a job object; there the parent's time limit still ends the script.
    """
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = MAX_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(MAX_MEMORY_BYTES, hard)
    if soft == resource.RLIM_INFINITY or soft > cap:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


class _Engine:
    """The loaded script; None until a ``load`` succeeded."""

    def __init__(self) -> None:
        self.js: Any = None
        self._entry = "FindProxyForURL"

    def load(self, text: str) -> dict[str, Any]:
        from dukpy import JSRuntimeError

        js = sandboxed_interpreter()
        try:
            js.evaljs(text)
        except JSRuntimeError as exc:
            return {"ok": False, "kind": "malformed", "message": js_error_message(exc)}
        self.js = js
        try:  # as pypac does: a first call weeds out scripts that cannot answer at all
            self._call("/", "0.0.0.0")
        except JSRuntimeError as exc:
            self.js = None
            message = js_error_message(exc)
            if "at FindProxyForURL" in str(exc):
                message = f"it throws when called with url '/', host '0.0.0.0' (pypac's test call): {message}"
            return {"ok": False, "kind": "malformed", "message": message}
        return {"ok": True}

    def _call(self, url: str, host: str) -> Any:
        """``FindProxyForURL(url, host)``, or ``FindProxyForURLEx`` when the script defines only that one."""
        from dukpy import JSRuntimeError

        try:
            return self.js.evaljs(self._entry + "(dukpy.url, dukpy.host)", url=url, host=host)
        except JSRuntimeError as exc:
            if self._entry == "FindProxyForURLEx" or "FindProxyForURL is not defined" not in str(exc):
                raise
            self._entry = "FindProxyForURLEx"
            return self.js.evaljs(self._entry + "(dukpy.url, dukpy.host)", url=url, host=host)

    def find(self, url: str, host: str) -> dict[str, Any]:
        from pypac.parser import parse_pac_value

        if self.js is None:
            return {"ok": False, "kind": "internal", "message": "find before a successful load"}
        try:
            value = self._call(url, host)
        except Exception as exc:  # the engine raises JSRuntimeError for any script error
            return {"ok": False, "kind": "runtime", "message": js_error_message(exc)}
        if value is None or (isinstance(value, str) and not value.strip()):
            return {"ok": True, "choices": ["DIRECT"]}  # browsers and WinHTTP treat "" / null as DIRECT
        if not isinstance(value, str):
            return {"ok": False, "kind": "result",
                    "message": f"returned a {type(value).__name__}, not a string like 'PROXY host:port'"}
        if len(value) > MAX_RESULT_CHARS:
            return {"ok": False, "kind": "result", "message": f"returned {len(value)} characters; not a proxy list"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pypac warns about each element it cannot read, and skips it
            choices = parse_pac_value(value)
        return {"ok": True, "choices": choices or ["DIRECT"]}


def handle(engine: _Engine, request: Any) -> dict[str, Any]:
    """One reply for one request; never raises."""
    try:
        op = request.get("op") if isinstance(request, dict) else None
        if op == "load":
            return engine.load(str(request["text"]))
        if op == "find":
            return engine.find(str(request["url"]), str(request["host"]))
        return {"ok": False, "kind": "internal", "message": f"unknown request {op!r}"}
    except Exception as exc:  # a defect here must reach the parent as a reply, not kill the worker silently
        return {"ok": False, "kind": "internal", "message": f"{type(exc).__name__}: {_one_line(exc)}"}


def _protocol_streams() -> tuple[IO[bytes], IO[bytes]]:
    """stdin/stdout as bytes; anything else that writes to fd 1 (a library's print) goes to stderr instead."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return sys.stdin.buffer, out


def main() -> int:
    # Ctrl+C reaches every process of the console; the parent decides, and kills this worker if needed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_memory()
    sandboxed_interpreter()  # imports and checks the engine before "ready": the time limits cover only the script

    requests, replies = _protocol_streams()
    replies.write(b'{"ready": true}\n')
    replies.flush()
    engine = _Engine()
    while line := requests.readline():
        try:
            request = json.loads(line)
        except ValueError as exc:
            reply: dict[str, Any] = {"ok": False, "kind": "internal", "message": f"bad request: {_one_line(exc)}"}
        else:
            reply = handle(engine, request)
        replies.write(json.dumps(reply).encode("utf-8") + b"\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
