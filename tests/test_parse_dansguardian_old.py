"""DansGuardian's older and emptier access.log lines (log format 1), both ways.

Field order from DansGuardian's source: 2.8 wrote ``when who from where what how
size`` (no weight, category, group, status or MIME type); 2.10 and e2guardian
write ``... size weight category group code mimetype clienthost groupname
useragent ...``, each blank field as nothing between two spaces, so a denied
request without MIME type, client hostname or group name ends with ``group
code`` once its trailing spaces are cut. The fields that matter are there, so
these are rows, the missing columns empty (status 0). Timezone Europe/London.
"""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from ingest import e2guardian, fast

UTC = timezone.utc
D28_ALLOWED = "2005.3.9 10:47:49 - 192.168.0.105 http://www.google.com/  GET 2713"
D28_DENIED = ("2005.3.9 10:47:50 SCHOOL\\jsmith 192.168.0.105 http://www.facebook.com/ *DENIED* Banned site: "
              "facebook.com GET 0")
NO_MIME = ("2026.11.30 9:17:01 jsmith 10.0.0.5 http://www.facebook.com/ *DENIED* Banned site: facebook.com GET 3804 0 "
           "Social Networking 1 403")
NO_GROUP = "2026.11.30 9:17:02 jsmith 10.0.0.5 http://www.bbc.co.uk/news  GET 900 0 News"
WEIGHT_LAST = "2026.11.30 9:17:03 - 10.0.0.5 http://www.bbc.co.uk/  GET 900 -"


def parse(lines: list[str]):
    return e2guardian.make_parser("", "Europe/London").parse(pl.Series("line", lines, dtype=pl.String), 1)


def test_old_and_short_lines_are_rows(both):
    rows, bad = parse([D28_ALLOWED, D28_DENIED, NO_MIME, NO_GROUP, WEIGHT_LAST, D28_ALLOWED + "\r"])
    assert bad.height == 0, bad.to_dicts()
    got = rows.select("ts", "user", "username", "client_ip", "method", "host", "action", "status", "bytes",
                      "category").rows()
    assert got == [
        (datetime(2005, 3, 9, 10, 47, 49, tzinfo=UTC), "192.168.0.105", None, "192.168.0.105", "GET",
         "www.google.com", "allowed", 0, 2713, None),
        (datetime(2005, 3, 9, 10, 47, 50, tzinfo=UTC), "school\\jsmith", "SCHOOL\\jsmith", "192.168.0.105", "GET",
         "www.facebook.com", "blocked", 0, 0, "Banned site"),
        (datetime(2026, 11, 30, 9, 17, 1, tzinfo=UTC), "jsmith", "jsmith", "10.0.0.5", "GET", "www.facebook.com",
         "blocked", 403, 3804, "Social Networking"),
        (datetime(2026, 11, 30, 9, 17, 2, tzinfo=UTC), "jsmith", "jsmith", "10.0.0.5", "GET", "www.bbc.co.uk",
         "allowed", 0, 900, "News"),
        (datetime(2026, 11, 30, 9, 17, 3, tzinfo=UTC), "10.0.0.5", None, "10.0.0.5", "GET", "www.bbc.co.uk",
         "allowed", 0, 900, None),
        (datetime(2005, 3, 9, 10, 47, 49, tzinfo=UTC), "192.168.0.105", None, "192.168.0.105", "GET",
         "www.google.com", "allowed", 0, 2713, None),
    ]


@pytest.mark.parametrize("line", [
    "2005.3.9 10:47:49 - 192.168.0.105 http://www.google.com/",  # no method and size
    "2005.3.9 10:47:49 - 192.168.0.105 http://www.google.com/ GET 12",  # method right after the URL: no `what`
    "2005.3.9 10:47:49 - 192.168.0.105 http://www.google.com/  GET x",
])
def test_still_bad(line, both):
    rows, bad = parse([line])
    assert rows.height == 0 and bad.get_column("reason").to_list() == ["no method, size and weight after the URL"]


def test_a_dansguardian_2_8_log_is_detected():
    assert e2guardian.looks_like([D28_ALLOWED, D28_DENIED, D28_ALLOWED])
    assert e2guardian.looks_like([NO_MIME, NO_GROUP])


def test_both_ways_agree_on_cut_lines(monkeypatch):
    """Every prefix (cut at a space) of full lines: the compiled and reference scanners agree."""
    full = ["2026.11.30 9:17:01 jsmith 10.0.0.5 http://www.facebook.com/ *DENIED* Banned site: facebook.com GET 3804 "
            "0 Social Networking 1 403 text/html 10.0.0.5 Staff - - - -", D28_DENIED,
            "2026.11.30 9:17:01 - 10.0.0.5 http://x.com/  GET 1 0  1 200  - Staff"]
    lines = [" ".join(f.split(" ")[:k]) for f in full for k in range(1, len(f.split(" ")) + 1)]
    monkeypatch.delenv("SURFAUDIT_NO_JIT", raising=False)
    assert fast.enabled()
    compiled = parse(lines)
    monkeypatch.setenv("SURFAUDIT_NO_JIT", "1")
    reference = parse(lines)
    assert compiled[0].equals(reference[0]) and compiled[1].equals(reference[1])
    assert compiled[0].height > 10
