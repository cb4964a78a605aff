"""Civil date and time to epoch microseconds: one definition for both paths.

Why its own module: the compiled scanners (`ingest.fast.bytescan` inlines it with
numba) and the reference parsers (`ingest.filterlog` and the formats, in plain
Python) must agree on which dates are real and on their instant; written once, in
the subset of Python numba compiles, and imported by a module that needs no numba.
"""

from __future__ import annotations


def civil_us(y: int, mo: int, d: int, h: int, mi: int, s: int) -> int:
    """Epoch microseconds of a civil date and time (-1 when it is no valid date or time)."""
    if mo < 1 or mo > 12 or d < 1 or h < 0 or h > 23 or mi < 0 or mi > 59 or s < 0 or s > 59:
        return -1
    dim = 31
    if mo == 4 or mo == 6 or mo == 9 or mo == 11:
        dim = 30
    elif mo == 2:
        dim = 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if d > dim:
        return -1
    yy = y - (1 if mo <= 2 else 0)  # days from the civil date (H. Hinnant's algorithm)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * ((mo + 9) % 12) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return (((days * 24 + h) * 60 + mi) * 60 + s) * 1_000_000
