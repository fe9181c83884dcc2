"""The command registry: one module per command, each exposing ``COMMAND``, a `pipeline.Command`.

A command has a name and help line, ``add_arguments(parser)``, ``collect(args, ctx) -> Evidence`` (all I/O)
and ``analyse(evidence) -> Analysis`` (pure: findings plus the command's frozen Results of
``aadc_doctor.results``). Its terminal renderer lives in ``render/text/<name>.py``. Keep module imports light:
the CLI imports the command's module at start-up, so heavy libraries are imported inside ``collect``. A command
never imports another command or ``cli`` (ruff TID251); what two commands share lives in a library package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from aadc_doctor.options import ask_on_terminal

if TYPE_CHECKING:
    from rich.console import Console

# Order is the order of `aadc-doctor --help`.
COMMAND_MODULES: dict[str, str] = {
    "check": "aadc_doctor.commands.check",
    "proxy": "aadc_doctor.commands.proxy",
    "explain": "aadc_doctor.commands.explain",
    "helpmsg": "aadc_doctor.commands.helpmsg",
    "proxylog": "aadc_doctor.commands.proxylog",
    "pta": "aadc_doctor.commands.pta",
    "account": "aadc_doctor.commands.account",
    "ad": "aadc_doctor.commands.ad",
    "collect": "aadc_doctor.commands.collect",
    "analyze": "aadc_doctor.commands.analyze",
    "demo": "aadc_doctor.commands.demo",
}


@dataclass
class RunContext:
    """What a command may know about how it was called, injected so tests need no patching.

    The consoles are made on first use: a `--json` run never prints through rich, so it need not import it.
    """

    json_mode: bool
    stdout: TextIO
    stderr: TextIO
    env: dict[str, str]
    given_console: Console | None = None
    given_err_console: Console | None = None
    debug: bool = False
    interactive: bool = False
    ask_password: Callable[[str], str | None] = ask_on_terminal  # the prompt; None when there is no terminal

    @property
    def console(self) -> Console:
        if self.given_console is None:
            from aadc_doctor.render.terminal import make_console

            self.given_console = make_console(self.stdout, self.env)
        return self.given_console

    @property
    def err_console(self) -> Console:
        if self.given_err_console is None:
            from aadc_doctor.render.terminal import make_console

            self.given_err_console = make_console(self.stderr, self.env)
        return self.given_err_console

