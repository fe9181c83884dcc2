"""The Cloud Sync provisioning agent's error codes and trace messages, with remedies (``data/cloudsync.toml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from aadc_doctor.knowledge import read_toml
from aadc_doctor.model import Severity

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]+")


@dataclass(frozen=True)
class ProvisioningError:
    code: str
    match: tuple[str, ...]
    severity: Severity
    title: str
    meaning: str
    remedy: str
    references: tuple[str, ...]
    names: tuple[str, ...] = ()  # what `explain` looks for in pasted text: the code, and identifiers of `match`
    exact_case: bool = False

    def found_in(self, lowered_message: str) -> bool:
        return any(m in lowered_message for m in self.match)


@dataclass(frozen=True)
class CloudSyncKnowledge:
    agent_processes: tuple[str, ...]
    trace_folder: str
    errors: tuple[ProvisioningError, ...]

    def classify(self, message: str) -> ProvisioningError | None:
        lowered = message.lower()
        return next((e for e in self.errors if e.found_in(lowered)), None)

    def is_agent(self, source: str) -> bool:
        return source.lower() in {p.lower() for p in self.agent_processes}


@cache
def load_cloudsync() -> CloudSyncKnowledge:
    data = read_toml("cloudsync.toml")
    refs: dict[str, str] = data["references"]
    errors = tuple(
        ProvisioningError(code=e["code"], match=tuple(m.lower() for m in e["match"]), severity=Severity(e["severity"]),
                          title=e["title"], meaning=e["meaning"], remedy=e["remedy"],
                          references=tuple(refs[r] for r in e["references"]),
                          names=tuple(dict.fromkeys([e["code"], *(m for m in e["match"] if _IDENTIFIER.fullmatch(m))])),
                          exact_case=bool(e.get("exact_case", False)))
        for e in data["error"])
    return CloudSyncKnowledge(tuple(data["agent_processes"]), data["trace_folder"], errors)
