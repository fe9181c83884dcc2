"""AD's time formats: FILETIME (100 ns since 1601, UTC) and negative intervals (maxPwdAge, lockoutDuration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
NEVER = 0x7FFFFFFFFFFFFFFF


def from_filetime(value: int | None) -> datetime | None:
    """None for 0 and 'never' (both mean no date), and for a time past year 9999 (accountExpires is sometimes
    9223372032559808511, just under 'never': no datetime holds it)."""
    if not value or value >= NEVER or value < 0:
        return None
    try:
        return _EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def from_interval(value: int | None) -> timedelta | None:
    """maxPwdAge and friends are stored negative; 'never' (-2^63 or 0) is None."""
    if value is None or value == 0 or value <= -NEVER:
        return None
    return timedelta(microseconds=abs(value) // 10)


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def duration_text(delta: timedelta | None) -> str:
    if delta is None:
        return "never"
    minutes = int(delta.total_seconds() // 60)
    if minutes >= 1440 and minutes % 1440 == 0:
        return f"{minutes // 1440} days"
    return f"{minutes} minutes"
