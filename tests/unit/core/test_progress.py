"""Progress on stderr only when it is a terminal, never with --json or when piped."""

from __future__ import annotations

import io
from pathlib import Path

from aadc_doctor import progress
from aadc_doctor.cli import main
from aadc_doctor.commands import RunContext

TRACE = Path(__file__).resolve().parents[3] / "corpus/logs/pta/msdocs_pta_agent_trace_example.log"


class TtyIO(io.StringIO):
    def isatty(self) -> bool:
        return True


def _ctx(stderr: io.StringIO, json_mode: bool = False) -> RunContext:
    return RunContext(json_mode=json_mode, stdout=io.StringIO(), stderr=stderr, env={"COLUMNS": "100"})


def test_advance_reaches_the_bar_only_inside_reading() -> None:
    seen: list[int] = []

    class Sink:
        def advance(self, nbytes: int) -> None:
            seen.append(nbytes)

    progress.advance(10)  # no bar: nothing happens
    token = progress._current.set(Sink())
    try:
        progress.advance(5)
        progress.advance_path(str(TRACE))
    finally:
        progress._current.reset(token)
    assert seen == [5, TRACE.stat().st_size]


def test_a_terminal_gets_a_bar_a_pipe_and_json_do_not() -> None:
    assert progress.shows_progress(_ctx(TtyIO()))
    assert not progress.shows_progress(_ctx(io.StringIO()))
    assert not progress.shows_progress(_ctx(TtyIO(), json_mode=True))
    stderr = TtyIO()
    ctx = _ctx(stderr)
    with progress.reading(ctx, 1000, "reading"):
        progress.advance(1000)
    assert "reading" in stderr.getvalue() and "1.0 kB" in stderr.getvalue()


def test_pta_trace_shows_progress_on_a_terminal_and_nothing_with_json() -> None:
    out, err = io.StringIO(), TtyIO()
    assert main(["pta", "trace", str(TRACE)], stdout=out, stderr=err, env={"COLUMNS": "100"}) == 0
    assert "pta trace" in err.getvalue()
    out, err = io.StringIO(), TtyIO()
    assert main(["pta", "trace", str(TRACE), "--json"], stdout=out, stderr=err, env={}) == 0
    assert err.getvalue() == ""
    out, plain = io.StringIO(), io.StringIO()
    assert main(["pta", "trace", str(TRACE)], stdout=out, stderr=plain, env={}) == 0
    assert plain.getvalue() == ""
