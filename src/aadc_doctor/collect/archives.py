"""Event-log files by channel: Windows' archives (``Archive-<channel>-<time>.evtx``) and live logs, told apart by name.

`collect` copies the archives of the channels it exports (they hold the events that rotated out of the live log,
which ``wevtutil epl`` no longer sees); `analyze` uses the same names to read, from a plain copy of the drive, only the
logs of those channels. The patterns are in collect_plan.toml ``[archive]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from aadc_doctor.knowledge import read_toml


@dataclass(frozen=True)
class ArchivePlan:
    folder: str  # environment variable of the folder (windir)
    directory: str  # under it, forward slashes
    name: re.Pattern[str]
    slash: str  # how "/" of a channel name is written in a file name ("%4")
    kind: str
    channels: frozenset[str]  # lower case: the channels `collect` exports

    def channel_of_name(self, file_name: str) -> str | None:
        """The channel a file name stands for, ``/`` restored: an archive's, else a live log's (``<channel>.evtx``).

        ``.xml`` counts as ``.evtx``: `collect --redact` ships each event log rendered to XML under the same name."""
        if file_name.lower().endswith(".xml"):
            file_name = file_name[: -len(".xml")] + ".evtx"
        match = self.name.match(file_name)
        if match:
            stem = match.group("channel")
        elif file_name.lower().endswith(".evtx"):
            stem = file_name[: -len(".evtx")]
        else:
            return None
        return re.sub(re.escape(self.slash), "/", stem, flags=re.IGNORECASE)

    def is_archive(self, file_name: str) -> bool:
        return self.name.match(file_name) is not None  # .evtx only: what Windows writes

    def wanted(self, file_name: str) -> bool:
        """A log (archived or live) of a channel `collect` exports."""
        channel = self.channel_of_name(file_name)
        return channel is not None and channel.lower() in self.channels


@cache
def archive_plan() -> ArchivePlan:
    plan = read_toml("collect_plan.toml")
    spec = plan["archive"]
    return ArchivePlan(folder=spec["folder"], directory=spec["dir"], name=re.compile(spec["name"], re.IGNORECASE),
                       slash=spec["slash"], kind=spec["kind"],
                       channels=frozenset(e["channel"].lower() for e in plan["eventlog"]))
