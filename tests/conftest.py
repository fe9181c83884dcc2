"""Shared test helpers: run the whole CLI in-process with an injected environment."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
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
