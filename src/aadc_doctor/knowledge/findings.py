"""The finding catalog: every finding text is a template in a ``knowledge/data/*.toml`` file, rendered one way.

One formatting policy (``TextFormatter``): ``{name}`` placeholders, strict (a placeholder the caller did not
supply is a KeyError, caught by the tests), with plural forms: ``{n:~line~lines}`` renders "1 line" / "3 lines",
``{n:?was?were}`` the agreeing word alone. `check`'s connectivity texts are written for optional values
(``lenient``: an absent or None placeholder renders empty and the sentence closes up).

Checked at load: every reference key exists, every expected template is there, every placeholder and plural form
parses, no two templates of a table share an id unless it is one of ``VARIANT_IDS``.
tests/unit/knowledge/test_finding_catalog.py renders every template of every file and runs ``check_unique_ids`` on
the whole catalog (at load it would mean parsing every finding file on every run: about 35 ms of start-up).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aadc_doctor.knowledge import read_toml
from aadc_doctor.model import Finding, Severity


class TextFormatter(string.Formatter):
    """str.format with plural forms: ``{n:~line~lines}`` -> "1 line" / "3 lines"; ``{n:?was?were}`` -> "was"."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec[:1] in ("~", "?"):
            singular, _, plural = format_spec[1:].partition(format_spec[0])
            word = singular if value == 1 else plural
            return f"{value} {word}" if format_spec[0] == "~" else word
        return str(super().format_field(value, format_spec))


TEXT = TextFormatter()

# The ids several templates share on purpose: one finding (one problem, one fix, one anchor in the HTML report)
# worded for its case. Any other id declared twice in the catalog is refused: a finding id names one thing.
VARIANT_IDS = frozenset({
    # connectivity_findings.toml: one endpoint ([outcome]) or every endpoint ([all]) failing the same way
    "proxy-forbidden", "proxy-auth-required", "proxy-error", "proxy-unreachable",
    # connectivity_findings.toml and dns_findings.toml: a name that does not resolve, worded by what the DNS
    # analysis found when it ran (dns_findings) or from the probe alone (connectivity)
    "dns-failure", "no-dns", "dns-filtered",
    # connectivity_findings.toml: inspection seen on one or many endpoints, its CA trusted or not
    "tls-intercepted",
    # proxy_findings.toml: the same misconfiguration in its several forms
    "machine-config-proxy-address-invalid", "proxy-only-in-miiserver-config", "bypass-covers-required-endpoint",
    "pta-agent-behind-authenticating-proxy", "connector-behind-authenticating-proxy",
    # pta_findings.toml: a lockout burst of one account (a stale password) or many; why no event was the agent's
    "pta-lockout-burst", "pta-no-agent-events",
})


def check_unique_ids(templates: Iterable[tuple[str, FindingTemplate]]) -> None:
    """ValueError naming every id that two templates (``where`` names each) share, variants of VARIANT_IDS aside."""
    seen: dict[str, list[str]] = {}
    for where, template in templates:
        seen.setdefault(template.id, []).append(where)
    clashes = [f"{finding_id!r} ({', '.join(places)})" for finding_id, places in seen.items()
               if len(places) > 1 and finding_id not in VARIANT_IDS]
    if clashes:
        raise ValueError("finding ids declared more than once: " + "; ".join(clashes))


def id_pattern(finding_id: str) -> re.Pattern[str]:
    """The ids a template can give: ``pta-reason-{code}`` matches pta-reason-1326."""
    parts = [re.escape(literal) + ("[^ ]+" if name is not None else "")
             for literal, name, _, _ in TEXT.parse(finding_id)]
    return re.compile("".join(parts))


def placeholders(text: str) -> set[str]:
    """The placeholder names of a template; ValueError for a malformed one (an unclosed brace, a bad plural)."""
    names = set()
    for _, name, spec, _ in TEXT.parse(text):
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}} is not a name")
        if spec and spec[0] in "~?" and spec.count(spec[0]) != 2:
            raise ValueError(f"plural form {{{name}:{spec}}} needs singular and plural: ~one~many or ?one?many")
        names.add(name)
    return names


class _Blank(dict[str, Any]):
    """Format mapping that leaves unknown placeholders empty instead of raising (lenient templates only)."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class FindingTemplate:
    """One finding's texts with ``{placeholders}``; ``render`` fills them in.

    ``lenient`` (connectivity's texts): unknown or None placeholders render empty, ``..`` left by an empty one
    collapses and the detail is stripped. Strict templates render exactly as written, and a placeholder the
    caller did not fill is a KeyError (a bug in the data or the code, caught by the tests).
    """

    id: str
    severity: Severity
    title: str
    detail: str
    remedy: str
    references: tuple[str, ...]
    lenient: bool = True

    @property
    def placeholders(self) -> set[str]:
        texts = (self.title, self.detail, self.remedy) + ((self.id,) if not self.lenient else ())
        return set().union(*(placeholders(text) for text in texts))

    def render(self, subject: str = "", **values: Any) -> Finding:
        """The finding (a strict template's id may hold placeholders: ``pta-reason-{code}`` is one per code)."""
        if not self.lenient:
            return Finding(id=TEXT.vformat(self.id, (), values), severity=self.severity,
                           title=TEXT.vformat(self.title, (), values), detail=TEXT.vformat(self.detail, (), values),
                           remedy=TEXT.vformat(self.remedy, (), values), subject=subject, references=self.references)
        fields = _Blank({k: v for k, v in values.items() if v is not None})
        return Finding(
            id=self.id, severity=self.severity, title=TEXT.vformat(self.title, (), fields),
            detail=TEXT.vformat(self.detail, (), fields).replace("..", ".").strip(),
            remedy=TEXT.vformat(self.remedy, (), fields), subject=subject, references=self.references,
        )


def _template(raw: dict[str, Any], refs: dict[str, str], where: str, lenient: bool) -> FindingTemplate:
    missing = [r for r in raw.get("references", ()) if r not in refs]
    if missing:
        raise ValueError(f"{where}: unknown reference key(s) {missing}")
    template = FindingTemplate(id=raw["id"], severity=Severity(raw["severity"]), title=raw["title"],
                               detail=raw.get("detail", ""), remedy=raw.get("remedy", ""),
                               references=tuple(refs[r] for r in raw.get("references", ())), lenient=lenient)
    try:
        template.placeholders  # noqa: B018 (parsed now: a malformed text fails at load, not on a user's machine)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return template


def load_finding_templates(file_name: str, section: str, required: tuple[str, ...] = (),
                           *, lenient: bool = True) -> dict[str, FindingTemplate]:
    """The templates of ``[section]`` in a data file, references resolved through its ``[references]`` table.

    Raises ValueError when a ``required`` key is missing or a template names an unknown reference key.
    """
    data = read_toml(file_name)
    refs: dict[str, str] = data.get("references", {})
    table: dict[str, Any] = data[section]
    absent = [k for k in required if k not in table]
    if absent:
        raise ValueError(f"{file_name}: [{section}] lacks {absent}")
    templates = {k: _template(v, refs, f"{file_name} [{section}.{k}]", lenient) for k, v in table.items()}
    check_unique_ids((f"{file_name} [{section}.{k}]", t) for k, t in templates.items())
    return templates


def load_prefixed_templates(file_name: str, section: str, prefix: str) -> dict[str, FindingTemplate]:
    """Strict templates of a table whose keys are the ids after `prefix` (proxylog_findings.toml: ``[finding.X]``
    is ``proxylog-X``); the texts besides title, detail and remedy (notes, alternative titles) are parsed too."""
    data = read_toml(file_name)
    refs: dict[str, str] = data.get("references", {})
    out = {}
    for key, spec in data[section].items():
        where = f"{file_name} [{section}.{key}]"
        template = FindingTemplate(f"{prefix}{key}", Severity(spec["severity"]), spec["title"], spec.get("detail", ""),
                                   spec.get("remedy", ""), tuple(refs.get(r, r) for r in spec.get("references", ())),
                                   lenient=False)
        try:
            for text in (v for k, v in spec.items() if isinstance(v, str) and k != "severity"):
                placeholders(text)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        out[key] = template
    return out


RUN_FINDING_KEYS = ("collect-incomplete", "collect-gaps", "collect-withheld", "demo-unexpected-diagnosis")


def run_findings() -> dict[str, FindingTemplate]:
    """run_findings.toml: the findings about a run itself (collect, analyze's manifest, the demo's verdict)."""
    return load_finding_templates("run_findings.toml", "finding", RUN_FINDING_KEYS, lenient=False)
