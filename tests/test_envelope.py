"""Syslog envelopes (RFC 3164, rsyslog ISO, RFC 5424, pfSense/OPNsense) before squid lines.

Expected values are written out by hand (epoch 1700000000 is 2023-11-14 22:13:20 UTC).
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import polars as pl
import pytest

from ingest import envelope, squid, tokens

T0 = datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=timezone.utc)
LINE = "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 jsmith HIER_DIRECT/157.240.1.35 -"
ROW = dict(ts=T0, user="jsmith", username="jsmith", client_ip="10.0.0.5", method="CONNECT", host="www.facebook.com",
           url="www.facebook.com:443", action="allowed", status=200, bytes=5120, elapsed_ms=456, category=None,
           source="squid")

ENVELOPES = [
    pytest.param("Nov 14 22:13:20 proxy squid[1234]: ", id="rfc3164-rsyslog-forwarding"),
    pytest.param("Nov  4 22:13:20 proxy squid: ", id="rfc3164-space-padded-day-no-pid"),
    pytest.param("Nov 04 22:13:20 proxy ", id="rfc3164-no-tag"),
    pytest.param("<134>Nov 14 22:13:20 proxy squid[1234]: ", id="rfc3164-with-pri"),
    pytest.param("Nov 14 22:13:20 pfSense (squid-1)[12345]: ", id="pfsense-bsd"),
    pytest.param("2026-11-30T09:17:01.123456+00:00 proxy squid[1234]: ", id="rsyslog-iso"),
    pytest.param("2026-11-30T09:17:01Z proxy ", id="rsyslog-iso-no-tag"),
    pytest.param("2026-11-30T09:17:01-0500 proxy squid: ", id="iso-offset-without-colon"),
    pytest.param("<14>2026-11-30T09:17:01.5+01:00 proxy squid: ", id="iso-with-pri"),
    pytest.param('<134>1 2026-11-30T09:17:01+00:00 fw.school.lan (squid-1) 81234 - [meta sequenceId="17"] ',
                 id="opnsense-rfc5424"),
    pytest.param("<134>1 2026-11-30T09:17:01.123456+00:00 fw.local squid 1234 - - ", id="rfc5424-nil-sd"),
    pytest.param("<134>1 - - - - - - ", id="rfc5424-all-nil"),
    pytest.param('<165>1 2026-11-30T09:17:01.003Z h app - ID47 [ex@32473 iut="3" eventSource="A\\"p]p"][b x="y z"] ',
                 id="rfc5424-two-sd-escaped-quote-and-bracket"),
    pytest.param("<134>1 2026-11-30T09:17:01Z h squid - - - \ufeff", id="rfc5424-bom"),
]


def parse(lines: list[str], first_line_no: int = 1):
    parser = envelope.Enveloped(squid.make_parser("", "UTC"))
    return parser.parse(pl.Series("line", lines, dtype=pl.String), first_line_no)


@pytest.mark.parametrize("prefix", ENVELOPES)
def test_strip_line(prefix):
    assert envelope.strip_line(prefix + LINE) == LINE
    assert envelope.strip_line(prefix + LINE + "\r") == LINE + "\r"
    assert envelope.present([prefix + LINE, "", prefix + LINE, LINE])


@pytest.mark.parametrize("prefix", ENVELOPES)
def test_enveloped_squid_line_parses_to_the_row(prefix):
    rows, bad = parse([prefix + LINE])
    assert bad.height == 0, bad.to_dicts()
    assert rows.to_dicts() == [ROW]


def test_all_envelopes_in_one_batch_with_the_slow_paths():
    """Both the compiled path and the regex path (a doubled space) of the inner parser."""
    odd = LINE.replace(" jsmith ", "  jsmith ")  # the scanner leaves it to the regexes
    lines = [p.values[0] + LINE for p in ENVELOPES] + [p.values[0] + odd for p in ENVELOPES]
    rows, bad = parse(lines)
    assert bad.height == 0
    assert rows.to_dicts() == [ROW] * (2 * len(ENVELOPES))


def test_not_envelopes():
    for line in [LINE, "2026-11-21T00:00:00.022Z,anna,10.0.0.1,https://x.com/,Social,Allowed",
                 "<1>" + LINE, "<1234>Nov 14 22:13:20 h t: x", "Nov 14 22:13:20 h", "Nov 14 22:13:20 ",
                 "Foo 14 22:13:20 h t: x", "<134>0 - - - - - - x", "<134>1 - - - - - [unterminated x",
                 "<134>1 - - - - - ", "", "2026-11-30T09:17:01 h t: x"]:
        assert envelope.strip_line(line) == line, line
    assert not envelope.present([LINE, LINE, "Nov 14 22:13:20 proxy squid: " + LINE])
    assert not envelope.present(["", "  "])


def test_bad_lines_keep_their_envelope_and_unwrapped_lines_pass_through():
    lines = [
        "Nov 14 22:13:20 proxy squid[1234]: " + LINE,
        "Nov 14 22:13:21 proxy rsyslogd: -- MARK --",  # another program's message: left out (ignored)
        LINE,  # no envelope: the inner parser judges it (good)
        "Nov 14 22:13:22 proxy squid[1234]: 1700000000.123 garbage",
        "<134>1 2026-11-30T09:17:01Z h squid - - - ",  # nothing after the header: bad, whole
        "Nov 14 22:13:22 proxy squid[1234]:    ",  # only spaces after it: bad, whole
        "",  # blank: skipped
    ]
    rows, bad = parse(lines, first_line_no=100)
    assert rows.to_dicts() == [ROW, ROW]
    assert bad.to_dicts() == [
        {"line_no": 103, "reason": "too few fields", "line": lines[3]},
        {"line_no": 104, "reason": "too few fields", "line": lines[4]},
        {"line_no": 105, "reason": "too few fields", "line": lines[5]},
    ]


def test_raw_batch_with_invalid_utf8_and_crlf():
    """The reader's path: bytes, an invalid line shown as U+FFFD in the String column."""
    good = ("Nov 14 22:13:20 proxy squid[1234]: " + LINE + "\r").encode()
    invalid = b"Nov 14 22:13:20 proxy squid[1234]: caf\xe9 " + LINE.encode()
    data = good + b"\n" + invalid + b"\n" + good + b"\n"
    offsets = np.array([0, len(good) + 1, len(good) + 1 + len(invalid) + 1, len(data)], dtype=np.int64)
    text = pl.Series("line", [good.decode(), "\ufffd", good.decode()], dtype=pl.String)
    raw = tokens.Raw(data, offsets[:-1].copy(), offsets[1:] - 1, lines=lambda: text)
    rows, bad = envelope.Enveloped(squid.make_parser("", "UTC")).parse(None, 1, raw)
    assert rows.to_dicts() == [ROW, ROW]
    assert bad.get_column("line_no").to_list() == [2]
    assert bad.get_column("line").to_list() == ["\ufffd"]  # the pipeline re-reads invalid lines' bytes
    stripped = envelope.strip_raw(raw).lines().to_list()
    assert stripped == [LINE + "\r", "\ufffd", LINE + "\r"]


def test_parser_attributes():
    parser = envelope.Enveloped(squid.make_parser("", "UTC"))
    assert parser.name == "squid" and parser.header_lines == 0


def test_many_lines_mixed():
    prefixes = [p.values[0] for p in ENVELOPES]
    lines = [prefixes[i % len(prefixes)] + LINE.replace("5120", str(i)) for i in range(30000)]
    rows, bad = parse(lines)
    assert bad.height == 0
    assert rows.get_column("bytes").to_list() == list(range(30000))
