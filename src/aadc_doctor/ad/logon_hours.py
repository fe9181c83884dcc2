"""logonHours: 21 bytes, one bit per hour of the week from Sunday 00:00 UTC (byte 0, lowest bit first)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


def parse_utc_offset(text: str) -> timedelta:
    """'UTC', '+01:00', '-05:30' -> offset; ValueError otherwise."""
    if text.upper() in ("UTC", "Z", "+00:00"):
        return timedelta(0)
    if len(text) == 6 and text[0] in "+-" and text[3] == ":" and text[1:3].isdigit() and text[4:].isdigit():
        delta = timedelta(hours=int(text[1:3]), minutes=int(text[4:]))
        if delta <= timedelta(hours=14):
            return delta if text[0] == "+" else -delta
    raise ValueError(text)


def allowed_utc_hours(raw: bytes) -> list[bool]:
    """168 flags, index 0 = Sunday 00:00-01:00 UTC."""
    return [bool(raw[h // 8] >> (h % 8) & 1) for h in range(168)] if len(raw) == 21 else [True] * 168


def week_in(flags: list[bool], offset: timedelta) -> dict[str, str]:
    """Per day in the zone `offset` (whole hours), 24 characters: '#' allowed, '.' denied."""
    shift = int(offset.total_seconds() // 3600)
    local = [flags[(h - shift) % 168] for h in range(168)]
    return {day: "".join("#" if local[d * 24 + h] else "." for h in range(24)) for d, day in enumerate(DAYS)}


def summary(week: dict[str, str]) -> str:
    if all(set(v) == {"#"} for v in week.values()):
        return "all hours"
    if all(set(v) == {"."} for v in week.values()):
        return "no hour at all"
    parts = []
    for day, hours in week.items():
        ranges = []
        h = 0
        while h < 24:
            if hours[h] == "#":
                start = h
                while h < 24 and hours[h] == "#":
                    h += 1
                ranges.append(f"{start:02d}-{h:02d}")
            else:
                h += 1
        if ranges:
            parts.append(f"{day} {', '.join(ranges)}")
    return "; ".join(parts)


def allowed_at(flags: list[bool], moment: datetime) -> bool:
    utc = moment.astimezone(UTC)
    return flags[((utc.weekday() + 1) % 7) * 24 + utc.hour]


@dataclass(frozen=True)
class LogonHours:
    """An account's allowed hours, shown in the agent server's zone."""

    zone: str
    week: Mapping[str, str]  # day -> 24 characters, '#' allowed
    summary: str
    allowed_now: bool
    now: str  # "Mon 10:30 UTC+01:00"


def describe(raw: bytes | None, offset: timedelta, zone: str, now: datetime) -> LogonHours | None:
    """None when the account has no restriction (attribute absent or every hour allowed)."""
    if not raw:
        return None
    flags = allowed_utc_hours(raw)
    if all(flags):
        return None
    week = week_in(flags, offset)
    local = now.astimezone(UTC) + offset
    return LogonHours(zone=zone, week=week, summary=summary(week), allowed_now=allowed_at(flags, now),
                      now=f"{DAYS[(local.weekday() + 1) % 7]} {local:%H:%M} {zone}")
