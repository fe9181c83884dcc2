"""Shared test helpers: run the whole CLI in-process with an injected environment."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aadc_doctor.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPO_ROOT / "corpus"
SEEDS = CORPUS / "seeds"


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def _run_cli(*args: str, env: dict[str, str] | None = None) -> CliRun:
    out, err = io.StringIO(), io.StringIO()
    base_env = {k: v for k, v in os.environ.items() if k not in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy",
                                                                   "http_proxy", "NO_PROXY", "no_proxy")}
    base_env["NO_COLOR"] = "1"
    if env:
        base_env.update(env)
    code = main(list(args), stdout=out, stderr=err, env=base_env)
    return CliRun(code, out.getvalue(), err.getvalue())


@pytest.fixture
def run_cli() -> Callable[..., CliRun]:
    """Run `aadc-doctor ARGS` in-process: run_cli("explain", "1328") -> CliRun(code, stdout, stderr)."""
    return _run_cli


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The reference corpus kept in the repository (corpus/, provenance in corpus/README.md)."""
    if not CORPUS.is_dir():
        pytest.fail(f"the corpus is missing at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session", autouse=True)
def _os_dns_diagnosis_stays_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """When the OS resolver fails, `check` asks this machine's DNS servers why (net/resolve.py). In tests that
    would send queries off loopback: point the diagnosis at a resolv.conf without servers (it then keeps the OS
    message). Tests of the diagnosis itself pass their own SystemDns or patch DEFAULT_SYSTEM_DNS."""
    from aadc_doctor.net import resolve

    conf = tmp_path_factory.mktemp("dns") / "resolv.conf"
    conf.write_text("# no nameserver: the OS-failure diagnosis asks nobody during the tests\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resolve, "DEFAULT_SYSTEM_DNS", resolve.SystemDns(conf, platform="linux"))
        yield
