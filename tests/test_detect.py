"""Format detection (`--format auto`) and the format registry."""

from __future__ import annotations

import pytest

from ingest import detect, e2guardian, fortigate, squid, squidguard, surfprotect
from surfaudit.errors import InputError

SQUID = [
    "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 jsmith HIER_DIRECT/157.240.1.35 -",
    "1700000001.001      0 2001:db8::5 TCP_DENIED/407 4100 CONNECT www.facebook.com:443 - HIER_NONE/- text/html",
    "1700000002.500     12 10.0.0.5 NONE_NONE/000 0 - error:invalid-request - HIER_NONE/- -",
]


@pytest.mark.parametrize(
    "lines",
    [
        SQUID,
        ["", "  "] + SQUID,  # leading blank lines
        [ln + "\r" for ln in SQUID],
        SQUID + ["1700000003.000 12 10.0.0.5 TCP_MI"],  # a partial last line
        ["1700000000.123 7 10.0.0.5 TCP_MISS/200 9 GET http://x.org/ Mary Ann HIER_DIRECT/1.2.3.4 text/html"],
    ],
)
def test_detects_squid(lines):
    assert detect.detect(lines).format is squid


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,username,client_ip,url,category,action",
        "Time,User,Source IP,URL,Category,Decision",
        "\ufeffDate/Time,Who,Destination,Result",
        "Datetime,IP Address,Request,Status\r",
    ],
)
def test_detects_surfprotect(header):
    assert detect.detect([header, "2026-01-15T10:00:00Z,a,10.0.0.1,x.com,allowed"]).format is surfprotect


@pytest.mark.parametrize(
    "lines",
    [
        [],
        ["", ""],
        ["hello world", "this is not a log"],
        ["name,email,phone", "a,b,c"],  # a CSV without the columns we need
        ['{"ts": 1700000000, "url": "x"}'],
        ["Mar 29 01:30:00 host sshd[123]: Accepted publickey for root"],
        SQUID[:1] + ["garbage"] * 3,  # mostly not squid
    ],
)
def test_unknown_content(lines):
    assert detect.detect(lines) is None


def test_registry_and_get_format():
    assert detect.FORMATS == {"squid": squid, "surfprotect": surfprotect, "e2guardian": e2guardian,
                              "squidguard": squidguard, "fortigate": fortigate}
    assert detect.get_format("squid") is squid
    assert detect.get_format("surfprotect") is surfprotect
    with pytest.raises(InputError, match="unknown log format"):
        detect.get_format("apache")


def test_module_names():
    for name, module in detect.FORMATS.items():
        assert module.NAME == name
