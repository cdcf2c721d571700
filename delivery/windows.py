"""Customers' local contact windows, in their own time zone (zoneinfo, so
daylight-saving changes are honoured; windows may cross midnight)."""

import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = datetime.UTC


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def window_is_open(local_time: datetime.time, start: datetime.time, end: datetime.time) -> bool:
    if start == end:  # a window that closes when it opens is open all day
        return True
    if start < end:
        return start <= local_time < end
    return local_time >= start or local_time < end  # across midnight, e.g. 22:00–06:00


def window_next_opening(
    *, now: datetime.datetime, tz_name: str, start: datetime.time, end: datetime.time
) -> datetime.datetime | None:
    """None when `now` is inside the customer's window; otherwise the UTC
    moment the window next opens."""
    tz = zone(tz_name)
    local = now.astimezone(tz)
    if window_is_open(local.time().replace(tzinfo=None), start, end):
        return None
    for days_ahead in range(3):
        day = local.date() + datetime.timedelta(days=days_ahead)
        # A wall time skipped by a DST jump resolves (fold=0) to the moment
        # just after the jump, which is when the window really opens.
        opening = datetime.datetime.combine(day, start, tzinfo=tz).astimezone(UTC)
        if opening > now:
            return opening
    raise AssertionError("a daily window always opens within two days")  # pragma: no cover
