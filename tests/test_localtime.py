"""Wall-clock times to UTC (`ingest.localtime.wall_to_utc_us`), against zoneinfo
itself, value by value: DST changes on the hour (London, New York), on the half
hour (Lord Howe's 30-minute change), an odd offset (Kathmandu), a time in the
skipped spring hour and in the repeated autumn hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ingest.localtime import wall_to_utc_us

EPOCH = datetime(1970, 1, 1)
US = timedelta(microseconds=1)


def zoneinfo_way(wall_us: int, tz: str) -> int:
    naive = EPOCH + wall_us * US
    aware = naive.replace(tzinfo=ZoneInfo(tz), fold=0)
    return (aware.astimezone(UTC).replace(tzinfo=None) - EPOCH) // US


def us(text: str) -> int:
    return (datetime.fromisoformat(text) - EPOCH) // US


@pytest.mark.parametrize("tz,around", [
    ("Europe/London", "2026-03-29T01:00"), ("Europe/London", "2026-10-25T01:00"),
    ("America/New_York", "2026-03-08T02:00"), ("America/New_York", "2026-11-01T01:00"),
    ("Australia/Lord_Howe", "2026-04-05T01:30"), ("Australia/Lord_Howe", "2026-10-04T02:00"),
    ("Asia/Kathmandu", "2026-06-01T00:00"), ("UTC", "2026-06-01T00:00"),
])
def test_every_value_as_zoneinfo_places_it(tz, around):
    rng = np.random.default_rng(7)
    centre = us(around)
    wall = centre + rng.integers(-3 * 3600_000_000, 3 * 3600_000_000, 5000)
    wall = np.concatenate([wall, centre + np.arange(-3, 4) * 900_000_000, [centre - 1, centre + 1]])
    got = wall_to_utc_us(wall, tz)
    assert got.tolist() == [zoneinfo_way(v, tz) for v in wall.tolist()]


def test_by_hand_london():
    # 01:30 on 29 March 2026 does not exist in London: fold=0 keeps GMT (01:30Z);
    # 01:30 on 25 October happens twice: fold=0 is the first (BST, 00:30Z).
    wall = np.array([us("2026-03-29T01:30"), us("2026-03-29T02:30"), us("2026-10-25T01:30"),
                     us("2026-10-25T02:30"), us("2026-07-01T09:00")])
    assert wall_to_utc_us(wall, "Europe/London").tolist() == [
        us("2026-03-29T01:30"), us("2026-03-29T01:30"), us("2026-10-25T00:30"),
        us("2026-10-25T02:30"), us("2026-07-01T08:00")]


def test_far_outside_the_window_does_not_raise():
    wall = np.array([-(2**62), 2**62, 0], dtype=np.int64)
    got = wall_to_utc_us(wall, "Europe/London")
    assert got[2] == -3600_000_000  # 1970-01-01 was in British Standard Time (UTC+1)
    assert got[0] < us("1800-01-01T00:00") and got[1] > us("2400-01-01T00:00")


def test_empty():
    assert wall_to_utc_us(np.array([], dtype=np.int64), "Europe/London").tolist() == []
