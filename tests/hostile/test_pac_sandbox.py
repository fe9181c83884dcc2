"""Issue 17, item 1: a PAC script (it may come from WPAD) reaches no file, module, environment or network.

dukpy, pypac's JavaScript engine, gives every script a bridge to Python (``call_python`` with
``dukpy.load_module``, which reads any file; ``dukpy.normalize_module``; ``dukpy.log.*``), a Node-like
``require``, ``process.env``, ``console`` and an ES-module loader (``import()``). Each bridge is tried here
through the CLI (``proxy --pac``), with a secret file and a secret environment variable planted: the run
must end with exit 2 and one line naming the script's error, never with the secret anywhere in the output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SECRET = "TopSecretPacCanary42"


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A readable file and an environment variable that both hold the secret."""
    secret_file = tmp_path / "secret.js"
    secret_file.write_text(f"module.exports = '{SECRET}'; {SECRET} = 1;\n")
    monkeypatch.setenv("AADC_PAC_CANARY", SECRET)
    return secret_file


def _pac(tmp_path: Path, expression: str, *, at_load: str = "") -> Path:
    """A PAC file whose answer for every real URL is built from expression (the test call gets DIRECT)."""
    path = tmp_path / "hostile.pac"
    path.write_text(f"{at_load}\nfunction FindProxyForURL(url, host) {{ if (host == '0.0.0.0') return 'DIRECT'; "
                    f"return 'PROXY ' + encodeURIComponent(String({expression})) + ':80'; }}\n")
    return path


def _run(run_cli: Callable[..., Any], pac: Path) -> tuple[Any, float]:
    started = time.monotonic()
    result = run_cli("proxy", "--pac", str(pac))
    return result, time.monotonic() - started


BRIDGES = [
    # (bridge, expression, error the script meets)
    ("call_python dukpy.load_module", "call_python('dukpy.load_module', {file})",
     "ReferenceError: No Python Function named dukpy.load_module"),
    ("globalThis.call_python dukpy.load_module", "globalThis.call_python('dukpy.load_module', '/etc/passwd')",
     "ReferenceError: No Python Function named dukpy.load_module"),
    ("call_python dukpy.normalize_module", "call_python('dukpy.normalize_module', '', {file})",
     "ReferenceError: No Python Function named dukpy.normalize_module"),
    ("call_python dukpy.log.info", "call_python('dukpy.log.info', 'x')",
     "ReferenceError: No Python Function named dukpy.log.info"),
    ("require", "require({file})", "ReferenceError: require is not defined"),
    ("process.env", "process.env.AADC_PAC_CANARY", "ReferenceError: process is not defined"),
    ("console", "console.log('x')", "ReferenceError: console is not defined"),
    ("CommonJS loader", "_dukpy_eval_cjs_source('x', 'x', 'return 1')",
     "ReferenceError: _dukpy_eval_cjs_source is not defined"),
    ("a PAC function with an object", "shExpMatch([1, 2], '*')",
     "an argument that is not a string or a number"),
    ("a PAC function with a huge argument", "dnsResolve(new Array(100000).join('a'))",
     "dnsResolve: an argument of 99999 characters"),
]


@pytest.mark.parametrize(("bridge", "expression", "error"), BRIDGES, ids=[b[0] for b in BRIDGES])
def test_each_bridge_is_closed(run_cli: Callable[..., Any], tmp_path: Path, planted: Path, bridge: str,
                               expression: str, error: str) -> None:
    pac = _pac(tmp_path, expression.replace("{file}", json.dumps(str(planted))))
    result, seconds = _run(run_cli, pac)
    assert result.code == 2, (bridge, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and error in lines[0], (bridge, result.stderr)
    assert lines[0].startswith(f"aadc-doctor: error: {pac}: FindProxyForURL failed for https://")
    assert SECRET not in result.stdout + result.stderr
    assert seconds < 20


def test_es_module_import_finds_nothing(run_cli: Callable[..., Any], tmp_path: Path, planted: Path) -> None:
    """import() is asynchronous: the script starts it while loading and returns what it got on the next call."""
    at_load = (f"var got = 'pending'; import({json.dumps(str(planted))}).then("
               "function (m) { got = 'loaded:' + m.default; }, function (e) { got = 'refused'; });")
    pac = _pac(tmp_path, "got", at_load=at_load)
    result, seconds = _run(run_cli, pac)
    assert SECRET not in result.stdout + result.stderr
    assert "loaded" not in result.stdout
    assert seconds < 20


def test_static_import_does_not_compile(run_cli: Callable[..., Any], tmp_path: Path, planted: Path) -> None:
    pac = tmp_path / "static.pac"
    pac.write_text(f"import s from {json.dumps(str(planted))};\nfunction FindProxyForURL(u, h) {{ return s; }}\n")
    result, _ = _run(run_cli, pac)
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        f"aadc-doctor: error: {pac}: not a valid PAC file: SyntaxError: Unexpected identifier 's' (line 1)"]
    assert SECRET not in result.stdout + result.stderr


def test_no_host_object_is_left(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    """Nothing beyond the language and the PAC functions: the global names a script can see, all of them."""
    pac = _pac(tmp_path, "Object.getOwnPropertyNames(globalThis).filter(function (n) { "
                         "return ['std', 'os', 'print', 'scriptArgs', 'fetch', 'XMLHttpRequest', 'require', 'process', "
                         "'console', 'module', 'exports', '_dukpy_eval_cjs_source', '_dukpy_cjs_source_compiles']"
                         ".indexOf(n) >= 0; }).join('+') || 'none'")
    result, _ = _run(run_cli, pac)
    assert result.code in (0, 1), result.stderr
    assert "http://none:80" in result.stdout


def test_an_allocating_script_is_stopped(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    """The worker's address space is capped (POSIX), so a memory bomb ends as the script's error, in seconds."""
    pac = _pac(tmp_path, "(function () { var a = []; while (true) a.push(new Array(1000000).join('x')); })()")
    result, seconds = _run(run_cli, pac)
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and ("out of memory" in lines[0] or "stopped the JavaScript engine" in lines[0]), lines
    assert seconds < 30
