"""The article's reference communication pattern: which hosts each wizard page calls, in which order.

Loaded from ``data/communication_pattern.toml``. Hosts become tokens (``login``, ``anchor``...) so that the
region-specific names (``bba800-anchor``, ``bwsc02-relay``) match by pattern and a proxy log from any region
can be compared with the reference sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache

from aadc_doctor.knowledge import read_toml


@dataclass(frozen=True)
class Token:
    """A class of destination in the pattern: one host, or a glob for region-specific names."""

    id: str
    port: int
    describes: str
    host: str = ""
    glob: str = ""
    example: str = ""

    def matches(self, host: str, port: int | None) -> bool:
        if port is not None and port != self.port:
            return False
        return host == self.host if self.host else fnmatchcase(host, self.glob)

    @property
    def label(self) -> str:
        """How a report names it: the host, or the glob for region-specific names."""
        return f"{self.host or self.glob}:{self.port}"


@dataclass(frozen=True)
class Step:
    """One row of the article's table."""

    time: str
    url: str
    token: str


@dataclass(frozen=True)
class Phase:
    id: str
    name: str
    current_name: str
    identity: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class CommunicationPattern:
    tokens: tuple[Token, ...]
    phases: tuple[Phase, ...]
    max_step_gap_seconds: float

    def token_for(self, host: str, port: int | None) -> str | None:
        for token in self.tokens:
            if token.matches(host, port):
                return token.id
        return None

    def token(self, token_id: str) -> Token:
        for token in self.tokens:
            if token.id == token_id:
                return token
        raise KeyError(token_id)


@cache
def load_pattern() -> CommunicationPattern:
    data = read_toml("communication_pattern.toml")
    tokens = tuple(
        Token(id=t["id"], port=int(t["port"]), describes=t["describes"], host=t.get("host", ""),
              glob=t.get("glob", ""), example=t.get("example", ""))
        for t in data["token"]
    )
    known = {t.id for t in tokens}
    phases = []
    for p in data["phase"]:
        steps = tuple(Step(time=s["time"], url=s["url"], token=s["token"]) for s in p["steps"])
        unknown = {s.token for s in steps} - known
        if unknown:
            raise ValueError(f"communication_pattern.toml: phase {p['id']} uses unknown tokens {sorted(unknown)}")
        phases.append(Phase(id=p["id"], name=p["name"], current_name=p["current_name"], identity=p["identity"],
                            steps=steps))
    return CommunicationPattern(tokens, tuple(phases), float(data["max_step_gap_seconds"]))
