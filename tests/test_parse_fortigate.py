"""FortiGate / FortiProxy web filter logs (key=value) to exact schema values.

Lines follow the FortiOS log message reference (utm/webfilter: logid 0316013056
ftgd_blk, 0317013312 ftgd_allow, ...) and real exports: FortiOS 6.0 (`url` a
path, `eventtime` in seconds, no `tz`), FortiOS 7 (`url` a full URL, `eventtime`
in nanoseconds, `tz`), FortiAnalyzer exports (repeated `date`/`time`), a bare
`<PRI>`. Expected values are written out by hand; the configured timezone is
Europe/London (GMT in winter, BST = UTC+1 in summer).
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import polars as pl
import pytest

from ingest import fortigate, tokens
from surfaudit.errors import InputError
from surfaudit.schema import EVENT_SCHEMA

UTC = timezone.utc
TZ = "Europe/London"


def parse(lines: list[str], first_line_no: int = 1):
    return fortigate.make_parser("", TZ).parse(pl.Series("line", lines, dtype=pl.String), first_line_no)


def fg(**kw) -> str:
    """A webfilter line: date, time, type and subtype first, then `kw` (None drops a key)."""
    pairs = {"date": "2026-11-30", "time": "09:17:01", "logid": '"0316013056"', "type": '"utm"',
             "subtype": '"webfilter"', "eventtype": '"ftgd_blk"', "level": '"warning"', "vd": '"root"',
             "srcip": "10.0.0.5", "srcport": "52144", "dstport": "443", "service": '"HTTPS"',
             "hostname": '"www.facebook.com"', "profile": '"default"', "action": '"blocked"',
             "url": '"https://www.facebook.com/"', "sentbyte": "517", "rcvdbyte": "0", "method": '"domain"',
             "cat": "37", "catdesc": '"Social Networking"'}
    pairs.update(kw)
    return " ".join(f"{k}={v}" for k, v in pairs.items() if v is not None)


def row(**kw) -> dict:
    base = dict(ts=datetime(2026, 11, 30, 9, 17, 1, tzinfo=UTC), user="10.0.0.5", username=None,
                client_ip="10.0.0.5", method=None, host="www.facebook.com", url="https://www.facebook.com/",
                action="blocked", status=0, bytes=0, elapsed_ms=None, category="Social Networking",
                source="fortigate")
    base.update(kw)
    return base


DOC_60 = ('date=2018-12-27 time=11:23:50 logid="0316013056" type="utm" subtype="webfilter" eventtype="ftgd_blk" '
          'level="warning" vd="vdom1" eventtime=1545938629 policyid=1 sessionid=764 user="bob" srcip=10.1.100.11 '
          'srcport=59194 srcintf="port12" srcintfrole="undefined" dstip=185.230.61.185 dstport=80 dstintf="port11" '
          'dstintfrole="undefined" proto=6 service="HTTP" hostname="ambrishsriv.wixsite.com" profile="g-default" '
          'action="blocked" reqtype="direct" url="/bizsquads" sentbyte=96 rcvdbyte=0 direction="outgoing" '
          'msg="URL belongs to a denied category in policy" method="domain" cat=26 catdesc="Malicious Websites" '
          'crscore=60 crlevel="high"')
OS_72 = ('<189>date=2026-10-09 time=00:39:03 devname="FGT-1" devid="FG200ETK20907839" eventtime=1791495542756106249 '
         'tz="+0300" logid="0317013312" type="utm" subtype="webfilter" eventtype="ftgd_allow" level="notice" '
         'vd="root" policyid=32 sessionid=1154263185 srcip=10.10.200.123 srcport=53765 dstip=20.190.151.37 '
         'dstport=443 proto=6 service="HTTPS" hostname="graph.microsoft.com" profile="g-default" '
         'action="passthrough" reqtype="direct" url="https://graph.microsoft.com/" sentbyte=207 rcvdbyte=4821 '
         'direction="outgoing" msg="URL belongs to an allowed category in policy"')

CASES = [
    pytest.param(DOC_60, row(ts=datetime(2018, 12, 27, 19, 23, 49, tzinfo=UTC), user="bob", username="bob",
                             client_ip="10.1.100.11", host="ambrishsriv.wixsite.com",
                             url="http://ambrishsriv.wixsite.com/bizsquads", category="Malicious Websites"),
                 id="fortios60-doc-path-url-eventtime-s-http-rating-method-ignored"),
    pytest.param(OS_72, row(ts=datetime(2026, 10, 8, 21, 39, 2, 756106, tzinfo=UTC), user="10.10.200.123",
                            client_ip="10.10.200.123", host="graph.microsoft.com", url="https://graph.microsoft.com/",
                            action="allowed", bytes=4821, category=None),
                 id="fortios72-full-url-eventtime-ns-pri-passthrough"),
    pytest.param(fg(time="10:17:01", tz='"+0100"'), row(), id="date-time-with-tz"),
    pytest.param(fg(date="2026-06-15", time="09:05:07", tz='"-05:00"'),
                 row(ts=datetime(2026, 6, 15, 14, 5, 7, tzinfo=UTC)), id="negative-tz-with-colon"),
    pytest.param(fg(date="2026-06-15", time="09:05:07"), row(ts=datetime(2026, 6, 15, 8, 5, 7, tzinfo=UTC)),
                 id="date-time-without-tz-is-local-bst"),
    pytest.param(fg(user='""', unauthuser='"SCHOOL\\JSmith"', url='"/watch?v=1"', hostname='"WWW.YouTube.com"',
                    rawdata='"Method=GET|Referer=https://x.org/"', catdesc='"Streaming Media and Download"'),
                 row(user="school\\jsmith", username="SCHOOL\\JSmith", host="www.youtube.com",
                     url="https://WWW.YouTube.com/watch?v=1", method="GET", category="Streaming Media and Download"),
                 id="unauthuser-domain-path-url-https-service-rawdata-method"),
    pytest.param(fg(user='"Mary Ann"', service='"tcp/8080"', dstport="8080", url='"/p"'),
                 row(user="mary ann", username="Mary Ann", url="http://www.facebook.com/p"),
                 id="user-with-space-http-for-other-ports"),
    pytest.param(fg(user='"jsmith@SCHOOL.LOCAL"', service=None, dstport="443", url='"/"'),
                 row(user="jsmith@school.local", username="jsmith@SCHOOL.LOCAL"), id="user-at-realm-https-by-port"),
    pytest.param(fg(srcip="2001:db8::5", httpmethod='"POST"', rcvdbyte="1234"),
                 row(user="2001:db8::5", client_ip="2001:db8::5", method="POST", bytes=1234),
                 id="ipv6-srcip-fortiproxy-httpmethod"),
    pytest.param(fg(eventtime="1796030221123"), row(ts=datetime(2026, 11, 30, 9, 17, 1, 123000, tzinfo=UTC)),
                 id="eventtime-ms"),
    pytest.param(fg(eventtime="1796030221123456", time="23:59:59"),
                 row(ts=datetime(2026, 11, 30, 9, 17, 1, 123456, tzinfo=UTC)), id="eventtime-us-wins-over-date"),
    pytest.param(fg(user='"o\\"brien"'), row(user='o"brien', username='o"brien'), id="escaped-quote-in-user"),
    pytest.param("itime=1796030300 " + fg(date="2026-11-30", logver="700120523") + " date=2001-01-01",
                 row(), id="fortianalyzer-first-key-wins"),
    pytest.param(fg(rcvdbyte=None, catdesc=None, cat=None), row(category=None), id="missing-bytes-and-category"),
    pytest.param(fg(type='"webfilter"', subtype='"urlfilter"'), row(), id="fortios4-type-webfilter"),
    pytest.param(fg() + "\r", row(), id="crlf"),
]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_fortigate_line(line, expected):
    rows, bad = parse([line])
    assert bad.height == 0, bad.to_dicts()
    assert rows.schema == EVENT_SCHEMA
    assert rows.to_dicts() == [expected]


def test_all_cases_in_one_batch_keep_order():
    rows, bad = parse([p.values[0] for p in CASES])
    assert bad.height == 0
    assert rows.to_dicts() == [p.values[1] for p in CASES]


@pytest.mark.parametrize(("value", "action"), [
    ('"blocked"', "blocked"), ("blocked", "blocked"), ('"block"', "blocked"), ('"dropped"', "blocked"),
    ('"deny"', "blocked"), ('"warning"', "blocked"), ('"passthrough"', "allowed"), ('"exempt"', "allowed"),
    ('"monitored"', "allowed"), ('"allowed"', "allowed"), ('"Passthrough"', "allowed"), ('"authenticate"', "auth"),
])
def test_action_values(value, action):
    rows, bad = parse([fg(action=value)])
    assert bad.height == 0 and rows.get_column("action").to_list() == [action]


BAD = [
    (('date=2026-11-30 time=09:17:01 logid="0000000013" type="traffic" subtype="forward" srcip=10.0.0.5 '
      'action="accept"'), "not a request (a FortiGate record of another type than webfilter)"),
    ('date=2026-11-30 time=09:17:01 logid="0100032001" type="event" subtype="system" msg="Admin login"',
     "not a request (a FortiGate record of another type than webfilter)"),
    ("junk", "malformed key=value pair"),
    (fg(url='"/unterminated'), "malformed key=value pair"),
    (fg(date=None, time=None), "no timestamp (neither eventtime nor date and time)"),
    (fg(date="2026-13-01"), "bad timestamp"),
    (fg(eventtime="abc"), "bad timestamp"),
    (fg(tz='"+99"'), "bad timestamp"),
    (fg(eventtime="100000"), "timestamp out of range"),
    (fg(date="2101-01-01"), "timestamp out of range"),
    (fg(eventtime="1796030221123456789012345"), "number too large"),
    (fg(action=None), "no action field"),
    (fg(action='"foo"'), "unknown action"),
    (fg(srcip=None), "no source IP (srcip)"),
    (fg(srcip='"host.lan"'), "no source IP (srcip)"),
    (fg(hostname=None, url='"/path"'), "no hostname or URL"),
    (fg(rcvdbyte="12x"), "bad byte count"),
    (fg(rcvdbyte="99999999999999999999"), "number too large"),
]


def test_bad_lines_have_reasons_and_good_lines_are_kept():
    lines = [fg(), *(b for b, _ in BAD), "  ", fg()]
    rows, bad = parse(lines, first_line_no=10)
    assert rows.height == 2
    assert bad.to_dicts() == [{"line_no": 11 + k, "reason": r, "line": b} for k, (b, r) in enumerate(BAD)]


def test_invalid_utf8_from_the_reader_is_a_bad_line():
    lines = [fg().encode(), fg(user='"jos\xe9"').encode("latin-1")]
    data = b"\n".join(lines) + b"\n"
    ends = (np.cumsum([len(x) + 1 for x in lines]) - 1).astype(np.int64)
    starts = ends - np.array([len(x) for x in lines], dtype=np.int64)
    raw = tokens.Raw(data, starts, ends, lines=lambda: pl.Series("line", [lines[0].decode(), "\ufffd"]))
    rows, bad = fortigate.make_parser("", TZ).parse(None, 1, raw)
    assert rows.height == 1
    assert bad.to_dicts() == [{"line_no": 2, "reason": "invalid utf-8", "line": "\ufffd"}]


def test_non_ascii_user_and_category():
    rows, bad = parse([fg(user='"Renée"', catdesc='"Réseaux sociaux"')])
    assert bad.height == 0
    assert rows.select("user", "username", "category").row(0) == ("renée", "Renée", "Réseaux sociaux")


def test_parser_attributes():
    parser = fortigate.make_parser("x", "UTC")
    assert parser.name == fortigate.NAME == "fortigate" and parser.header_lines == 0
    with pytest.raises(InputError, match="unknown timezone"):
        fortigate.make_parser("x", "Nowhere/Else")


SQUID = "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 jsmith HIER_DIRECT/1.2.3.4 -"


@pytest.mark.parametrize(("lines", "expected"), [
    ([DOC_60, OS_72, fg()], True),
    ([BAD[0][0], fg()], True),  # a FortiOS log with other subtypes: claimed, those lines rejected
    ([SQUID] * 3, False),
    (["timestamp,username,client_ip,url,category,action", "2026-01-15T10:00:00Z,a,10.0.0.1,x.com,,allowed"], False),
    (["key=value other=thing"], False),  # key=value, but no FortiOS key
    (["2021-02-14 00:02:33 [26] Request(default/porn/-) x.com:443 10.0.0.1/- - CONNECT REDIRECT"], False),
    (["garbage", fg(), fg()], False),
    ([], False),
])
def test_looks_like(lines, expected):
    assert fortigate.looks_like(lines) is expected


@pytest.mark.parametrize("hostname, url, host", [
    ("2001:db8::b5", "http://[2001:db8::b5]/bizsquads", "2001:db8::b5"),
    ("[2001:db8::b5]", "http://[2001:db8::b5]/bizsquads", "2001:db8::b5"),  # already bracketed: kept
    ("ambrishsriv.wixsite.com:8080", "http://ambrishsriv.wixsite.com:8080/bizsquads", "ambrishsriv.wixsite.com"),
])
def test_an_ipv6_hostname_is_bracketed_in_the_url(hostname, url, host):
    """The log message reference's FortiOS 6.0 line (a path URL joined to
    `hostname`), its server an IPv6 address: FortiOS logs that address as the
    hostname when a request names none (LOG_ID_URL_FILTER_INVALID_HOSTNAME_*)."""
    line = DOC_60.replace("dstip=185.230.61.185", "dstip=2001:db8::b5").replace(
        'hostname="ambrishsriv.wixsite.com"', f'hostname="{hostname}"')
    rows, bad = parse([line])
    assert bad.height == 0
    assert rows.select("url", "host").row(0) == (url, host)
