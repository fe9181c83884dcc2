"""Error codes and named errors as typed entries: the one place other modules ask "what does X mean?".

Every table is read from ``knowledge/data`` on first use and cached (``functools.cache``), so
importing this module costs nothing and ``aadc-doctor helpmsg 1328`` reads only the Win32 table.
Official texts (Windows messages, AADSTS descriptions, the wizard table) come from the copied
official tables; causes and remedies in our words come from the curated TOML files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from aadc_doctor.json_data import json_meta
from aadc_doctor.knowledge import read_toml, read_tsv, row_starting_with
from aadc_doctor.knowledge.win32_table import win32_row, win32_rows

WIN32_SOURCE = "win32.tsv (MicrosoftDocs/win32 system error codes and NetMgmt error codes)"
NTSTATUS_SOURCE = "ntstatus.tsv (MS-ERREF 2.3.1 as transcribed by impacket)"
KERBEROS_SOURCE = "kerberos.tsv (RFC 4120 error codes as transcribed by impacket)"
AADSTS_SOURCE = "aadsts.tsv (Microsoft Entra AADSTS error codes reference)"
PTA_TABLE_SOURCE = "pta_signin_errors.tsv (current PTA troubleshooting article)"
WIZARD_TABLE_SOURCE = "aadconnect_wizard_errors.tsv (current connectivity troubleshooting article)"
WINHTTP_SOURCE = "wininet_winhttp.tsv (MicrosoftDocs/win32 WinINet and WinHTTP error pages)"
CLOUDSYNC_SOURCE = "cloudsync.toml (Cloud Sync provisioning agent error codes, see SOURCES.md)"
CURATED_SOURCE = "seed_errors.toml (aadc-doctor, from the seed articles and current documentation)"

INT32_MASK = 0xFFFFFFFF


@dataclass(frozen=True)
class CodeEntry:
    """One explained code or named error; ``message`` is the official text wherever one exists."""

    kind: str
    code: str
    name: str
    message: str
    cause: str = ""
    remedy: str = ""
    see_also: tuple[str, ...] = ()
    source: str = ""
    checked_by: str | None = None
    hex: str = field(default="", metadata=json_meta(omit_empty=True))
    aliases: tuple[str, ...] = field(default=(), metadata=json_meta(skip=True))
    headings: tuple[str, ...] = field(default=(), metadata=json_meta(skip=True))
    notes: tuple[str, ...] = field(default=(), metadata=json_meta(omit_empty=True))
    current: str = field(default="", metadata=json_meta(skip=True))
    seed: str = field(default="", metadata=json_meta(skip=True))
    related: tuple[str, ...] = field(default=(), compare=False, metadata=json_meta(omit_empty=True))

    @property
    def key(self) -> tuple[str, str]:
        """Identity of an entry across lookups (for de-duplication)."""
        return (self.kind, self.code)

    def json_extra(self) -> dict[str, Any]:
        return {"status": {"current": self.current, "seed": self.seed}} if self.current or self.seed else {}


@dataclass(frozen=True)
class PtaReason:
    """What a PTA trace ``Reason`` (a Win32 code from LogonUser) means for the user's sign-in."""

    win32_code: int
    title: str
    aadsts_code: int | None
    admin_remedy: str
    user_sees: str
    aadsts_basis: str = "inference"
    ntstatus: tuple[int, ...] = ()
    checked_by: str | None = None


def _int(text: str) -> int:
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def normalise_status(code: int) -> int:
    """An NTSTATUS/HRESULT given as a negative int32 (-1073741681) becomes its unsigned form."""
    return code & INT32_MASK if code < 0 else code


def hex32(code: int) -> str:
    return f"0x{normalise_status(code):08X}"


def name_key(text: str) -> str:
    """Case- and punctuation-insensitive key: "Invalid Grant", "invalid_grant", "InvalidGrant" agree."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


# ---- Win32 --------------------------------------------------------------------------------------


def win32_message(code: int) -> str | None:
    """The Windows message for a Win32 error (FormatMessage text, inserts such as %1 kept)."""
    row = win32_row(code)
    return row["message"] if row else None


def win32_entry(code: int) -> CodeEntry | None:
    """A Win32 system error (0-15999, NERR_ codes included), with PTA meaning where it is a logon failure."""
    row = win32_row(code)  # one line of the table, unless it is loaded already
    if row is None:
        return None
    reason = pta_reason(code)
    entry = CodeEntry(
        kind="win32", code=str(code), name=row["name"], message=row["message"], hex=row["hex"],
        source=f"{WIN32_SOURCE}: {row['source_page']}", checked_by="aadc-doctor helpmsg " + str(code),
        see_also=tuple(f"0x{s:08X}" for s in _win32_to_ntstatus().get(code, ())),
    )
    if reason is not None:
        saw = f"AADSTS{reason.aadsts_code}" if reason.aadsts_code else "no AADSTS code"
        entry = replace(
            entry,
            cause=f"In a PTA agent trace (Reason: '{code}'): {reason.title.lower()}. The user most likely saw: "
            f"{reason.user_sees}",
            remedy=reason.admin_remedy,
            checked_by=reason.checked_by or entry.checked_by,
            related=(saw,) if reason.aadsts_code else (),
            notes=(_aadsts_link_note(reason),) if reason.aadsts_code else (),
        )
    return entry


def _aadsts_link_note(reason: PtaReason) -> str:
    if reason.aadsts_basis == "documented":
        return f"Microsoft's documentation ties this failure to AADSTS{reason.aadsts_code}."
    return f"That the user saw AADSTS{reason.aadsts_code} is our inference from the codes' meanings, not documented."


# ---- NTSTATUS -----------------------------------------------------------------------------------


@cache
def _ntstatus_rows() -> dict[int, Mapping[str, str]]:
    rows: dict[int, Mapping[str, str]] = {}
    for row in read_tsv("ntstatus.tsv"):
        rows.setdefault(int(row["code_hex"], 16), row)  # two codes have two names: keep the first
    return rows


def _ntstatus_row(status: int) -> Mapping[str, str] | None:
    """One status: from the parsed table when it is loaded already, else by scanning for its line."""
    if _ntstatus_rows.cache_info().currsize:
        return _ntstatus_rows().get(status)
    return row_starting_with("ntstatus.tsv", f"0x{status:08X}")


@cache
def _ntstatus_map() -> dict[int, tuple[int, str]]:
    return {int(r["ntstatus"], 16): (int(r["win32"]), r["note"]) for r in read_tsv("ntstatus_win32.tsv")}


@cache
def _win32_to_ntstatus() -> dict[int, tuple[int, ...]]:
    reverse: dict[int, list[int]] = {}
    for status, (win32, _note) in _ntstatus_map().items():
        reverse.setdefault(win32, []).append(status)
    return {k: tuple(v) for k, v in reverse.items()}


def ntstatus_codes() -> frozenset[int]:
    """Every status the NTSTATUS table names (loads the table whole)."""
    return frozenset(_ntstatus_rows())


def ntstatus_to_win32(code: int) -> int | None:
    """The Win32 error a logon-family NTSTATUS surfaces as (the mapping LogonUser callers see)."""
    status = normalise_status(code)
    mapped = _ntstatus_map().get(status)
    if mapped is not None:
        return mapped[0]
    if status & 0xFFFF0000 == 0x80070000:  # an HRESULT wrapping a Win32 error (FACILITY_WIN32)
        return status & 0xFFFF
    return None


def ntstatus_entry(code: int) -> CodeEntry | None:
    """An NTSTATUS value (0xC000006F, or -1073741681), with its Win32 equivalent and PTA meaning."""
    status = normalise_status(code)
    row = _ntstatus_row(status)
    if row is None:
        return None
    entry = CodeEntry(kind="ntstatus", code=hex32(status), name=row["name"], message=row["message"],
                      hex=hex32(status), source=NTSTATUS_SOURCE, checked_by="aadc-doctor pta events FILE")
    mapped = _ntstatus_map().get(status)
    if mapped is None:
        return entry
    win32, note = mapped
    w = win32_entry(win32)
    notes = [f"Win32 equivalent: {win32}" + (f" ({w.name}: {w.message})" if w else "")]
    if note:
        notes.append(note)
    return replace(entry, cause=w.cause if w else "", remedy=w.remedy if w else "",
                   see_also=(str(win32), *(w.related if w else ())), notes=tuple(notes))


# ---- Kerberos -----------------------------------------------------------------------------------


@cache
def _kerberos_rows() -> dict[int, Mapping[str, str]]:
    return {int(row["code_dec"]): row for row in read_tsv("kerberos.tsv")}


@cache
def _kerberos_causes() -> dict[int, str]:
    return {int(r["code"], 16): r["possible_causes"] for r in read_tsv("kerberos_4771_failure_codes_msdocs.tsv")}


def kerberos_entry(code: int) -> CodeEntry | None:
    """A Kerberos error (the Failure/Result Code of events 4768 and 4771)."""
    row = _kerberos_rows().get(code)
    if row is None:
        return None
    cause = _kerberos_causes().get(code, "")
    return CodeEntry(kind="kerberos", code=row["code_hex"], name=row["name"], message=row["message"],
                     hex=row["code_hex"], cause=cause, source=KERBEROS_SOURCE, checked_by="aadc-doctor pta events FILE")


# ---- WinINet / WinHTTP --------------------------------------------------------------------------


@cache
def _winhttp_rows() -> dict[int, tuple[Mapping[str, str], ...]]:
    rows: dict[int, list[Mapping[str, str]]] = {}
    for row in read_tsv("wininet_winhttp.tsv"):
        rows.setdefault(int(row["code"]), []).append(row)
    return {k: tuple(v) for k, v in rows.items()}


def winhttp_entries(code: int) -> list[CodeEntry]:
    """The WinHTTP and WinINet meanings of a 12xxx code (the two APIs name some numbers differently)."""
    return [
        CodeEntry(kind=row["api"].lower(), code=str(code), name=row["name"], message=row["message"],
                  hex=row["hex"], source=WINHTTP_SOURCE, checked_by="aadc-doctor check")
        for row in sorted(_winhttp_rows().get(code, ()), key=lambda r: r["api"] != "WinHTTP")
    ]


# ---- PTA reasons --------------------------------------------------------------------------------


@cache
def _pta_reasons() -> dict[int, PtaReason]:
    reasons: dict[int, PtaReason] = {}
    for item in read_toml("pta_reasons.toml")["reason"]:
        reasons[int(item["win32"])] = PtaReason(
            win32_code=int(item["win32"]), title=item["title"], aadsts_code=int(item["aadsts"]) or None,
            admin_remedy=item["admin_remedy"], user_sees=item["user_sees"], aadsts_basis=item["aadsts_basis"],
            ntstatus=tuple(int(s, 16) for s in item.get("ntstatus", ())), checked_by=item.get("checked_by"),
        )
    return reasons


def pta_reason(win32_code: int) -> PtaReason | None:
    """The meaning of a PTA trace ``Reason: 'N'`` for the sign-in, or None for codes we have no reading of."""
    return _pta_reasons().get(win32_code)


def pta_reasons() -> tuple[PtaReason, ...]:
    return tuple(_pta_reasons().values())


# ---- AADSTS -------------------------------------------------------------------------------------


@cache
def _aadsts_rows() -> dict[int, Mapping[str, str]]:
    return {int(row["code"]): row for row in read_tsv("aadsts.tsv")}


@cache
def _pta_table() -> dict[int, tuple[Mapping[str, str], ...]]:
    rows: dict[int, list[Mapping[str, str]]] = {}
    for row in read_tsv("pta_signin_errors.tsv"):
        rows.setdefault(int(row["code"].removeprefix("AADSTS")), []).append(row)
    return {k: tuple(v) for k, v in rows.items()}


@cache
def _aadsts_notes() -> dict[int, Mapping[str, Any]]:
    return {int(item["code"]): item for item in read_toml("aadsts_notes.toml")["code"]}


@cache
def aadsts_aliases() -> dict[str, int]:
    """Misprints of AADSTS codes in the seed articles (AADSTS8002 for 80002), by name_key."""
    return {name_key(alias): code for code, note in _aadsts_notes().items() for alias in note.get("aliases", ())}


def aadsts_entry(code: int) -> CodeEntry | None:
    """An AADSTS code: the official description, the PTA tables' wording, and our cause and remedy."""
    row = _aadsts_rows().get(code)
    pta_rows = _pta_table().get(code, ())
    note = _aadsts_notes().get(code)
    if row is None and not pta_rows and (note is None or "message" not in note):
        return None
    notes: list[str] = []
    sources: list[str] = []
    if row is not None:
        name, message = row["name"], row["description"]
        sources.append(AADSTS_SOURCE)
    elif not pta_rows and note is not None:  # documented elsewhere (Seamless SSO table), see SOURCES.md
        name, message = note.get("name", ""), note["message"]
    else:
        name, message = "", pta_rows[-1]["reason"]
    for pta in pta_rows:
        label = "Sign-in screen" if pta["table"] == "user_facing" else "Sign-in log"
        notes.append(f"{label} (PTA article): {pta['reason'].rstrip('.')}. Resolution: {pta['resolution']}")
    if pta_rows:
        sources.append(PTA_TABLE_SOURCE)
    see_also = tuple(row["links"].split()) if row is not None and row["links"] else ()
    entry = CodeEntry(kind="aadsts", code=f"AADSTS{code}", name=name, message=message, notes=tuple(notes),
                      see_also=see_also, source="; ".join(sources))
    if note is None:
        return entry
    return replace(
        entry, cause=note.get("cause", ""), remedy=note.get("remedy", ""), seed=note.get("seed", ""),
        notes=(*note.get("notes", ()), *entry.notes), see_also=(*note.get("see_also", ()), *entry.see_also),
        checked_by=note.get("checked_by"), aliases=tuple(note.get("aliases", ())),
        source=entry.source + "; aadsts_notes.toml",
    )


# ---- Curated named errors (wizard, ADAL, HTTP, PowerShell, PTA, reference facts) -----------------


@cache
def _wizard_table() -> dict[str, Mapping[str, str]]:
    return {row["error"]: row for row in read_tsv("aadconnect_wizard_errors.tsv")}


@cache
def curated_entries() -> tuple[CodeEntry, ...]:
    """Every error the two seed articles name, plus the facts where they are out of date."""
    entries: list[CodeEntry] = []
    for item in read_toml("seed_errors.toml")["entry"]:
        message = item.get("message", "")
        source = CURATED_SOURCE
        notes: tuple[str, ...] = ()
        official = item.get("official")
        if official:
            row = _wizard_table()[official]
            message = row["comment"]
            if row["category"] != "proxy_http" and row["text"] != row["error"]:
                notes = (f"Shown in the wizard as \"{row['text']}\".",)
            source = f"{WIZARD_TABLE_SOURCE}; {CURATED_SOURCE}"
        entries.append(CodeEntry(
            kind=item["kind"], code=item["code"], name=item["name"], message=message, cause=item.get("cause", ""),
            remedy=item.get("remedy", ""), see_also=tuple(item.get("see_also", ())), source=source,
            checked_by=item.get("checked_by"), aliases=tuple(item.get("aliases", ())),
            headings=tuple(item.get("headings", ())), current=item.get("current", ""), seed=item.get("seed", ""),
            notes=notes,
        ))
    return tuple(entries)


@cache
def _curated_by_key() -> dict[str, CodeEntry]:
    index: dict[str, CodeEntry] = {}
    for entry in curated_entries():
        for label in (entry.code, entry.name, *entry.aliases, *entry.headings):
            index.setdefault(name_key(label), entry)
    return index


def curated_entry(name: str) -> CodeEntry | None:
    """A curated entry by its code, name, heading or alias (any case or punctuation)."""
    return _curated_by_key().get(name_key(name))


def wizard_error(name: str) -> CodeEntry | None:
    """A wizard, ADAL, PowerShell or PTA error by name: "InvalidGrant", "invalid grant", "AzureRoleMissing"..."""
    entry = curated_entry(name)
    return entry if entry is not None and entry.kind != "http" else None


@cache
def _http_by_status() -> dict[int, CodeEntry]:
    return {int(key): entry for key, entry in _curated_by_key().items() if key.isdigit() and entry.kind == "http"}


def http_entry(status: int) -> CodeEntry | None:
    """The proxy answers the connectivity article explains (403, 407): a dict access, asked once per number."""
    return _http_by_status().get(status)


# ---- Whole-table iteration (for relevance search) -----------------------------------------------


@cache
def cloudsync_entries() -> tuple[tuple[CodeEntry, tuple[str, ...], bool], ...]:
    """The Cloud Sync provisioning agent's errors (``cloudsync.toml``, the knowledge `analyze` uses), as entries,
    each with the names `explain` finds it by and whether their case must match."""
    from aadc_doctor.knowledge.cloudsync import load_cloudsync

    return tuple(
        (CodeEntry(kind="cloudsync", code=error.code, name=error.code, message=error.title, cause=error.meaning,
                   remedy=error.remedy, see_also=error.references, source=CLOUDSYNC_SOURCE,
                   checked_by="aadc-doctor analyze PATH (the provisioning agent's trace); aadc-doctor check "
                              "--profile cloudsync"),
         error.names, error.exact_case)
        for error in load_cloudsync().errors
    )


def all_entries() -> Iterator[CodeEntry]:
    """Every entry of every table, curated first; used by free-text search."""
    yield from curated_entries()  # not the Cloud Sync errors: found by name only, they would outrank PTA's on "agent"
    for code in _aadsts_rows().keys() | _pta_table().keys():
        entry = aadsts_entry(code)
        if entry is not None:
            yield entry
    for code in win32_rows():
        win = win32_entry(code)
        if win is not None:
            yield win
    for status in _ntstatus_rows():
        nt = ntstatus_entry(status)
        if nt is not None:
            yield nt
    for kcode in _kerberos_rows():
        kerb = kerberos_entry(kcode)
        if kerb is not None:
            yield kerb
    for hcode in _winhttp_rows():
        yield from winhttp_entries(hcode)


@cache
def _symbols() -> dict[str, tuple[tuple[str, int], ...]]:
    """Symbolic names (ERROR_LOGON_FAILURE, STATUS_..., KDC_ERR_..., AADSTS CamelCase names) to (table, code)."""
    index: dict[str, list[tuple[str, int]]] = {}
    for code, row in win32_rows().items():
        index.setdefault(row["name"].upper(), []).append(("win32", code))
    for status, row in _ntstatus_rows().items():
        index.setdefault(row["name"].upper(), []).append(("ntstatus", status))
    for status_row in read_tsv("ntstatus.tsv"):  # the second names of the two doubly named codes
        pair = ("ntstatus", int(status_row["code_hex"], 16))
        if pair not in index.setdefault(status_row["name"].upper(), []):
            index[status_row["name"].upper()].append(pair)
    for kcode, row in _kerberos_rows().items():
        index.setdefault(row["name"].upper(), []).append(("kerberos", kcode))
    for hcode, rows in _winhttp_rows().items():
        for row in rows:
            index.setdefault(row["name"].upper(), []).append(("winhttp", hcode))
    for acode, row in _aadsts_rows().items():
        if row["name"]:
            index.setdefault(row["name"].upper(), []).append(("aadsts", acode))
    return {k: tuple(v) for k, v in index.items()}


def entries_by_symbol(symbol: str) -> list[CodeEntry]:
    """Entries named ``symbol`` (any case): ERROR_LOGON_FAILURE, STATUS_..., OnPremiseStoreIsNotAvailable."""
    entries: list[CodeEntry] = []
    for table, code in _symbols().get(symbol.upper(), ()):
        if table == "winhttp":
            entries.extend(e for e in winhttp_entries(code) if e.name.upper() == symbol.upper())
            continue
        lookup = {"win32": win32_entry, "ntstatus": ntstatus_entry, "kerberos": kerberos_entry,
                  "aadsts": aadsts_entry}[table]
        entry = lookup(code)
        if entry is not None:
            entries.append(entry)
    return entries


def symbol_names() -> tuple[str, ...]:
    """Every symbolic name the tables know (as printed in the tables)."""
    names = [row["name"] for row in win32_rows().values()]
    names += [row["name"] for row in read_tsv("ntstatus.tsv")]
    names += [row["name"] for row in _kerberos_rows().values()]
    names += [row["name"] for rows in _winhttp_rows().values() for row in rows]
    names += [row["name"] for row in _aadsts_rows().values() if row["name"]]
    return tuple(dict.fromkeys(names))


def win32_codes() -> tuple[int, ...]:
    return tuple(win32_rows())


def aadsts_codes() -> tuple[int, ...]:
    return tuple(sorted(_aadsts_rows().keys() | _pta_table().keys()))


@cache
def aadsts_known_codes() -> frozenset[int]:
    """Every code ``aadsts_entry`` explains: the reference, the PTA article's tables, and the notes that carry a
    message (so a caller can pass over a number none of them has without building an entry)."""
    noted = {code for code, note in _aadsts_notes().items() if "message" in note}
    return frozenset(_aadsts_rows().keys() | _pta_table().keys() | noted)
