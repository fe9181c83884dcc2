"""The finding catalog: every finding text is a template in a ``knowledge/data/*.toml`` file, rendered one way.

One formatting policy (``TextFormatter``): ``{name}`` placeholders, strict (a placeholder the caller did not
supply is a KeyError, caught by the tests), with plural forms: ``{n:~line~lines}`` renders "1 line" / "3 lines",
``{n:?was?were}`` the agreeing word alone. `check`'s connectivity texts are written for optional values
(``lenient``: an absent or None placeholder renders empty and the sentence closes up).

Checked at load: every reference key exists, every expected template is there, every placeholder and plural form
parses. tests/unit/knowledge/test_finding_catalog.py renders every template of every file.
"""

from __future__ import annotations

import string
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
    return {k: _template(v, refs, f"{file_name} [{section}.{k}]", lenient) for k, v in table.items()}


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


RUN_FINDING_KEYS = ("collect-incomplete", "collect-gaps", "demo-unexpected-diagnosis")


def run_findings() -> dict[str, FindingTemplate]:
    """run_findings.toml: the findings about a run itself (collect, analyze's manifest, the demo's verdict)."""
    return load_finding_templates("run_findings.toml", "finding", RUN_FINDING_KEYS, lenient=False)
