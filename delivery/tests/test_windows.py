import datetime
from zoneinfo import ZoneInfo

from delivery.windows import window_is_open, window_next_opening

UTC = datetime.UTC
T = datetime.time


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_it_is_open_inside_a_daytime_window():
    assert window_is_open(T(9, 0), T(8, 0), T(22, 0))
    assert window_is_open(T(8, 0), T(8, 0), T(22, 0))
    assert not window_is_open(T(22, 0), T(8, 0), T(22, 0))
    assert not window_is_open(T(7, 59), T(8, 0), T(22, 0))


def test_a_window_across_midnight_is_open_late_and_early():
    assert window_is_open(T(23, 30), T(22, 0), T(6, 0))
    assert window_is_open(T(5, 59), T(22, 0), T(6, 0))
    assert not window_is_open(T(12, 0), T(22, 0), T(6, 0))


def test_a_window_that_closes_when_it_opens_is_always_open():
    assert window_is_open(T(3, 0), T(0, 0), T(0, 0))


def test_it_returns_none_inside_the_window_in_the_customers_zone():
    # 06:00 UTC is 09:00 in Moscow (UTC+3).
    now = at("2026-11-22T06:00:00")
    assert window_next_opening(now=now, tz_name="Europe/Moscow", start=T(8), end=T(22)) is None


def test_it_defers_to_this_mornings_opening_in_the_customers_zone():
    # 02:00 UTC is 05:00 in Moscow: the window opens at 08:00 Moscow = 05:00 UTC.
    now = at("2026-11-22T02:00:00")
    opening = window_next_opening(now=now, tz_name="Europe/Moscow", start=T(8), end=T(22))
    assert opening == at("2026-11-22T05:00:00")


def test_it_defers_to_tomorrow_after_the_evening_close():
    now = at("2026-11-22T20:00:00")  # 23:00 in Moscow
    opening = window_next_opening(now=now, tz_name="Europe/Moscow", start=T(8), end=T(22))
    assert opening == at("2026-11-23T05:00:00")


def test_it_uses_the_new_offset_after_a_daylight_saving_change():
    # New York moves from EST (UTC-5) to EDT (UTC-4) on 2026-03-08.
    now = at("2026-03-08T03:00:00")  # 22:00 EST on the 7th
    opening = window_next_opening(now=now, tz_name="America/New_York", start=T(8), end=T(20))
    assert opening == at("2026-03-08T12:00:00")  # 08:00 EDT
    assert opening.astimezone(ZoneInfo("America/New_York")).hour == 8


def test_a_window_opening_inside_the_skipped_hour_opens_just_after_the_jump():
    now = at("2026-03-08T05:00:00")  # 00:00 EST
    opening = window_next_opening(now=now, tz_name="America/New_York", start=T(2, 30), end=T(20))
    local = opening.astimezone(ZoneInfo("America/New_York"))
    assert opening > now
    assert (local.hour, local.minute) == (3, 30)


def test_a_night_window_across_midnight_defers_to_the_evening():
    now = at("2026-11-22T12:00:00")
    opening = window_next_opening(now=now, tz_name="UTC", start=T(22), end=T(6))
    assert opening == at("2026-11-22T22:00:00")
    night = at("2026-11-22T01:00:00")
    assert window_next_opening(now=night, tz_name="UTC", start=T(22), end=T(6)) is None


def test_an_unknown_zone_is_read_as_utc():
    now = at("2026-11-22T02:00:00")
    opening = window_next_opening(now=now, tz_name="Mars/Olympus", start=T(8), end=T(22))
    assert opening == at("2026-11-22T08:00:00")
