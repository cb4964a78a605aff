"""Wall-clock times to UTC, the `zoneinfo` way, vectorised (shared by the CSV formats).

What: `iso(text)` and `day_first(text)` read the two ways CSV exports write a
time (ISO 8601 with or without an offset; `30/11/2026 09:17[:05]` as Excel
writes UK dates) into a wall clock and an offset; `to_utc(frame, tz)` turns a frame's `naive` column (the wall clock as
written) and `offset_s` column (the offset in seconds when the text gave one,
else null) into `ts`, an exact UTC instant; `in_window` is the sane window of
years outside which a timestamp is rejected rather than stored.

Why: CSV exports (SurfProtect, vendor formats of `[formats.NAME]`) mostly write
local times without an offset. DESIGN §4 says those are local time in the
configured timezone, resolved as Python's `zoneinfo` does with `fold=0`: in the
repeated autumn hour the earlier occurrence, in the skipped spring hour the
offset before the change. polars' `ambiguous="earliest"` gives the zoneinfo
answer for the repeated hour, but polars cannot place a non-existent time the
zoneinfo way, so those few rows are resolved with zoneinfo itself, once per
distinct value. One module, so every CSV format agrees to the microsecond.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

FIRST_YEAR, LAST_YEAR = 1990, 2100  # a timestamp outside these years is a bad line, not a row
OUT_OF_RANGE = f"timestamp out of range (years {FIRST_YEAR}-{LAST_YEAR})"
_LOW = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
_HIGH = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)


_ISO_RE = (
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2})(:\d{2})?(?:[.,](\d{1,9}))?"
    r" *(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?$"
)
_DAY_FIRST = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S%.f")


def _fraction(f: pl.Expr) -> pl.Expr:
    return f.fill_null("0").str.slice(0, 6).str.pad_end(6, "0")


def iso(text: pl.Expr) -> list[pl.Expr]:
    """ISO 8601 text -> `naive` (wall clock, Datetime µs) and `offset_s` (seconds
    east of UTC; null when the text gives no offset); both null if not ISO."""
    f = text.str.extract_groups(_ISO_RE).struct.field
    naive = pl.concat_str(f("1"), pl.lit(" "), f("2"), f("3").fill_null(":00"), pl.lit("."), _fraction(f("4")))
    sign = pl.when(f("6") == "-").then(-1).otherwise(1)
    hh, mm = f("7").cast(pl.Int64, strict=False), f("8").fill_null("0").cast(pl.Int64)
    offset_s = sign * (hh * 3600 + mm * 60)
    offset_s = pl.when(f("5").is_not_null()).then(0).otherwise(offset_s)
    # an offset that is no UTC offset (hours above 23, minutes above 59: ISO 8601, and
    # FortiGate's tz and squid's %z are held to the same) is a bad timestamp, not days away
    real = hh.is_null() | ((hh <= 23) & (mm <= 59))
    return [pl.when(real).then(_wall(naive)).alias("naive"), pl.when(real).then(offset_s).alias("offset_s")]


# The usual shapes, read by polars' strptime (a capture-free regex picks them out);
# every other text goes through the full rules of `iso`.
# (Only real offsets, 00:00-23:59: any other goes to `iso`, which makes it a bad timestamp.)
_COMMON_ISO = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
               r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?$")


def iso_frame(time: pl.Series) -> pl.DataFrame:
    """`naive` and `offset_s` (as `iso`) of the time texts `time`, the usual
    shapes (`2026-11-30T09:17:05.123Z`, `...+01:00`, `2026-11-30 09:17:05`) by
    strptime and slicing, several times cheaper than the regex of `iso`, which
    reads the others."""
    t = pl.col("time")
    frame = pl.DataFrame({"time": time})
    common = frame.select(t.str.contains(_COMMON_ISO).fill_null(False)).to_series()
    if not common.any():
        return frame.select(*iso(t))
    zulu, signed = t.str.ends_with("Z"), t.str.slice(-6, 1).is_in(["+", "-"])
    body = pl.when(zulu).then(t.str.head(-1)).when(signed).then(t.str.head(-6)).otherwise(t)
    sign = pl.when(t.str.slice(-6, 1) == "-").then(-1).otherwise(1)
    offset_s = (pl.when(zulu).then(0)
                .when(signed).then(sign * (t.str.slice(-5, 2).cast(pl.Int64) * 3600
                                           + t.str.slice(-2, 2).cast(pl.Int64) * 60)))
    naive = body.str.replace("T", " ", literal=True).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f",
                                                                  strict=False)
    fast = frame.filter(common).select(naive.alias("naive"), offset_s.cast(pl.Int64).alias("offset_s"))
    if common.all():
        return fast
    slow = frame.filter(~common).select(*iso(t))
    where = np.flatnonzero(common.to_numpy())
    rest = np.flatnonzero(~common.to_numpy())
    out = {}
    for name in ("naive", "offset_s"):
        col = pl.Series(name, [None], dtype=fast.schema[name]).new_from_index(0, len(time))
        col.scatter(where, fast.get_column(name))
        col.scatter(rest, slow.get_column(name).cast(fast.schema[name]))
        out[name] = col
    return pl.DataFrame(out)


def day_first(text: pl.Expr) -> pl.Expr:
    """`naive` of a day-first date and time as Excel writes UK dates (`30/11/2026
    09:17`, `30/11/2026 9:17:05`, `30/11/2026 09:17:05.250`: day and month of one
    or two digits, a four-digit year, seconds and a fraction optional); null if
    not one. polars' strptime with fixed patterns: far cheaper than a regex; each
    pattern after the first reads only what the ones before it left."""
    out = None
    for pattern in _DAY_FIRST:
        one = text.str.strptime(pl.Datetime("us"), pattern, strict=False)
        out = one if out is None else pl.when(out.is_null()).then(one).otherwise(out)
    return out.alias("naive")


def two_digit_years(frame: pl.DataFrame, text: str = "time") -> pl.DataFrame:
    """`frame` with the `naive` day-first dates of a cell formatted dd/mm/yy (saved with
    two digits, which `%Y` reads as the year 26) in their century by Excel's rule, 00-29
    the 2000s and 30-99 the 1900s; "30/11/0026" stays the year 26. Only the rows read
    before the year 100 are looked at (none, in an ordinary export)."""
    early = frame.select(pl.col("naive").dt.year() < 100).to_series().fill_null(False)
    if not early.any():
        return frame
    where = np.flatnonzero(early.to_numpy())
    sub = frame[where]
    short = sub.get_column(text).str.contains(r"^\s*\d{1,2}/\d{1,2}/\d{2}(?:\s|$)")
    year = sub.get_column("naive").dt.year()
    fixed = sub.select(pl.when(short).then(pl.col("naive").dt.offset_by(
        pl.when(year < 30).then(pl.lit("2000y")).otherwise(pl.lit("1900y")))).otherwise(pl.col("naive")))
    naive = frame.get_column("naive").clone()
    naive.scatter(where, fixed.to_series())
    return frame.with_columns(naive)


def _wall(text: pl.Expr) -> pl.Expr:
    return text.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False)


def in_window(ts: pl.Expr) -> pl.Expr:
    """True where the UTC instant `ts` lies in the years FIRST_YEAR..LAST_YEAR."""
    return (ts >= _LOW) & (ts < _HIGH)


def to_utc(frame: pl.DataFrame, tz: str) -> pl.DataFrame:
    """`frame` (with columns `naive` Datetime and `offset_s` Int64) plus `ts`, the
    UTC instant: naive - offset when an offset was given, else the wall clock
    `naive` in `tz` read with fold=0; null where `naive` is null."""
    naive, offset_s = pl.col("naive"), pl.col("offset_s")
    out = frame.with_columns((naive.dt.replace_time_zone("UTC") - pl.duration(seconds=offset_s)).alias("ts"))
    wall = np.flatnonzero(frame.select(offset_s.is_null() & naive.is_not_null()).to_series().to_numpy())
    if len(wall) == 0:
        return out
    us = frame.get_column("naive").cast(pl.Datetime("us")).gather(wall).to_physical().to_numpy()
    ts = out.get_column("ts").clone()
    ts.scatter(wall, pl.Series(wall_to_utc_us(us, tz)).cast(pl.Datetime("us", "UTC")))
    return out.with_columns(ts)


_HOUR_US = 3_600_000_000
_EPOCH = datetime(1970, 1, 1)
_CLAMP = (int((datetime(1800, 1, 1) - _EPOCH) / timedelta(microseconds=1)),
          int((datetime(2400, 1, 1) - _EPOCH) / timedelta(microseconds=1)))


def wall_to_utc_us(wall: np.ndarray, tz: str) -> np.ndarray:
    """UTC epoch microseconds of the wall-clock times `wall` (epoch microseconds of
    the naive time) in `tz`, read as zoneinfo reads them with fold=0. The offset
    is asked of zoneinfo once per distinct hour (at its first and last
    microsecond); only an hour in which the offset changes is resolved value by
    value. A time far outside the sane window keeps its hour's offset at the clamp
    (such rows are rejected anyway)."""
    zone = ZoneInfo(tz)
    wall = np.asarray(wall, dtype=np.int64)
    clamped = np.clip(wall, *_CLAMP)
    hours, at = np.unique(clamped // _HOUR_US, return_inverse=True)
    first = np.array([_offset_us(zone, h * _HOUR_US) for h in hours.tolist()], dtype=np.int64)
    last = np.array([_offset_us(zone, (h + 1) * _HOUR_US - 1) for h in hours.tolist()], dtype=np.int64)
    out = wall - first[at]
    mixed = np.flatnonzero((first != last)[at])
    if len(mixed):  # an hour with a change of offset: each distinct time alone
        values, where = np.unique(clamped[mixed], return_inverse=True)
        offsets = np.array([_offset_us(zone, v) for v in values.tolist()], dtype=np.int64)
        out[mixed] = wall[mixed] - offsets[where]
    return out


def _offset_us(zone: ZoneInfo, wall_us: int) -> int:
    """The UTC offset (µs) of the naive wall-clock time `wall_us` in `zone`, fold=0."""
    offset = (_EPOCH + timedelta(microseconds=wall_us)).replace(tzinfo=zone, fold=0).utcoffset()
    return 0 if offset is None else offset // timedelta(microseconds=1)
