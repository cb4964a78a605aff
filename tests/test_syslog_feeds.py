"""A firewall's whole syslog in one file, and syslog servers that write a year or Kiwi's tabs.

pfSense/OPNsense forward every program's messages (filterlog, dhcpd, php-fpm,
sshd, kernel...) with squid's: those lines are no lines of the log, counted as
ignored (not rejected, exit 0), while squid's own bad lines stay rejected. The
envelopes are written as the products print them: BSD syslog with a year
(`Nov 19 2026 09:17:01`) and Kiwi Syslog's `date time<TAB>Facility.Level<TAB>host<TAB>`.
"""

from __future__ import annotations

import os
import time

import polars as pl
import pytest

from ingest import envelope, squid, tokens
from ingest.pipeline import ingest_paths
from surfaudit.config import Config, Ingest, Retention
from surfaudit.store import Store
from tests.conftest import run_cli, squid_line, utc

LINE = "1700000000.123    456 10.0.0.5 TCP_TUNNEL/200 5120 CONNECT www.facebook.com:443 jsmith HIER_DIRECT/157.240.1.35 -"
FILTERLOG = ("Nov 19 09:17:01 pfSense filterlog[5032]: 5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,"
             "10.0.0.9,8.8.8.8,51234,443,0,S,1234567,,64240,,mss;sackOK;TS;nop;wscale")
OTHERS = [
    FILTERLOG,
    "Nov 19 09:17:02 pfSense dhcpd: DHCPACK on 10.0.0.50 to 00:11:22:33:44:55 (laptop-7) via igb1",
    "Nov 19 09:17:03 pfSense php-fpm[391]: /index.php: Successful login for user 'admin' from: 10.0.0.2",
    "Nov 19 09:17:04 pfSense sshd[8812]: Accepted publickey for admin from 10.0.0.2 port 52211 ssh2",
    "Nov 19 09:17:05 pfSense kernel: arp: 10.0.0.77 moved from 00:11:22:33:44:55 to 00:11:22:33:44:66 on igb1",
    '<134>1 2026-11-19T09:17:06+00:00 OPNsense.lan filterlog 30124 - [meta sequenceId="9"] 81,,,0,vtnet0,match,pass',
    "Nov 19 09:17:07 pfSense syslogd: restart",
]
YEAR = "Nov 19 2026 09:17:01 fw squid[123]: "
KIWI = "2026-11-19 09:17:01\tLocal7.Info\t10.0.0.1\tsquid[123]: "
KIWI_ENVELOPES = [
    pytest.param(YEAR, id="bsd-with-year"),
    pytest.param("<134>Nov  9 2026 09:17:01 fw squid: ", id="bsd-with-year-and-pri"),
    pytest.param(KIWI, id="kiwi-iso-date"),
    pytest.param("2026-11-19 09:17:01\tLocal7.Info\t10.0.0.1\t", id="kiwi-no-tag"),
    pytest.param("11-19-2026 09:17:01\tUser.Notice\tproxy.school.lan\tsquid[77]: ", id="kiwi-us-date"),
    pytest.param("2026-11-19 09:17:01\tLocal7.Info\t10.0.0.1\tNov 19 09:17:01 proxy squid[123]: ",
                 id="kiwi-keeping-the-senders-header"),
]


def parse(lines: list[str], first_line_no: int = 1):
    return envelope.Enveloped(squid.make_parser("", "UTC")).parse(pl.Series("line", lines, dtype=pl.String),
                                                                   first_line_no)


@pytest.mark.parametrize("prefix", KIWI_ENVELOPES)
def test_envelopes_with_a_year_and_kiwi_are_stripped(prefix, both):
    assert envelope.strip_line(prefix + LINE) == LINE
    rows, bad = parse([prefix + LINE, prefix + LINE + "\r"])
    assert bad.height == 0 and rows.height == 2
    assert rows.get_column("user").to_list() == ["jsmith"] * 2


def test_not_kiwi():
    for line in ["2026-11-19 09:17:01\tjsmith\t10.0.0.1\t" + LINE, "2026-11-19 09:17:01 Local7.Info 10.0.0.1 " + LINE,
                 "2026-11-19 09:17:01\tLocal7.Loud\t10.0.0.1\t" + LINE, "Nov 19 202 09:17:01 fw squid: " + LINE]:
        assert envelope.strip_line(line) == line, line


def test_tags_and_programs(both):
    lines = [YEAR + LINE, KIWI + LINE, *OTHERS, "Nov 19 09:17:01 pfSense (squid-1)[12345]: " + LINE, LINE]
    raw = tokens.Raw.of(pl.Series("line", lines))
    starts, ts, te = envelope._scan(raw)
    names = [None if s < 0 else envelope.program_name(raw.data[s:e].tobytes().decode()) for s, e in zip(ts, te)]
    assert names == ["squid", "squid", "filterlog", "dhcpd", "php-fpm", "sshd", "kernel", "filterlog", "syslogd",
                     "squid", None]
    assert [envelope.program_of(ln) for ln in lines] == names


def test_other_programs_lines_are_left_out_and_squids_bad_lines_kept(both):
    lines = [*OTHERS, "Nov 19 09:17:08 pfSense (squid-1)[12345]: " + LINE,
             "Nov 19 09:17:09 pfSense (squid-1)[12345]: 1700000000.123 garbage",  # squid's own: rejected
             "Nov 19 09:17:10 pfSense squid-access: also garbage",  # an imfile tag naming squid: rejected
             "Nov 19 09:17:11 pfSense " + "no tag at all",  # no tag: the parser judges it
             "Nov 19 09:17:12 pfSense proxyaccess: " + LINE]  # a line that parses is a row whatever its tag
    rows, bad = parse(lines, first_line_no=10)
    assert rows.height == 2
    assert bad.get_column("line_no").to_list() == [10 + len(OTHERS) + k for k in (1, 2, 3)]
    assert bad.get_column("line").to_list() == lines[len(OTHERS) + 1:len(OTHERS) + 4]


def test_a_vendor_csv_has_no_known_program():
    class Inner:
        name = "smoothwall"
    assert envelope.Enveloped(Inner()).programs is None


def settled(path):
    old = time.time() - 7200
    os.utime(path, (old, old))
    return path


@pytest.mark.parametrize("others_first", [30, 600])
def test_a_pfsense_feed_is_detected_as_squid_and_exits_0(tmp_path, others_first, both):
    t = [utc(2026, 11, 19, 9, 17, s) for s in range(6)]
    body = [FILTERLOG] * others_first
    for k, ts in enumerate(t):
        body += [f"Nov 19 09:17:0{k} pfSense (squid-1)[12345]: " + squid_line(ts), OTHERS[k % len(OTHERS)]]
    log = tmp_path / "pfsense.log"
    log.write_text("\n".join(body) + "\n\n")
    settled(log)
    store = Store(tmp_path / "store")
    cfg = Config(store_path=store.root, retention=Retention(12), ingest=Ingest())
    with store.lock():
        r, = ingest_paths(store, cfg, [log], now=utc(2026, 11, 20))
    assert (r.format, r.rows, r.rejected, r.status) == ("squid (syslog)", 6, 0, "ok")
    assert r.ignored == others_first + 6 + 1  # the other programs' lines and the blank one
    assert r.lines == r.rows + r.duplicates + r.expired + r.rejected + r.held_back == 6
    run = run_cli("--store", str(tmp_path / "store2"), "ingest", str(log))
    assert run.code == 0, run.err


def test_kiwi_and_year_files_ingest(tmp_path, both):
    for name, prefix in (("kiwi.txt", KIWI), ("year.log", YEAR)):
        log = tmp_path / name
        log.write_text("".join(prefix + squid_line(utc(2026, 11, 19, 9, 17, s)) + "\n" for s in range(3)))
        settled(log)
        store = Store(tmp_path / ("store-" + name))
        cfg = Config(store_path=store.root, retention=Retention(12), ingest=Ingest())
        with store.lock():
            r, = ingest_paths(store, cfg, [log], now=utc(2026, 11, 20))
        assert (r.format, r.rows, r.rejected) == ("squid (syslog)", 3, 0), r


# syslog's repeated-message reduction (rsyslog `$RepeatedMsgReduction on`, as Ubuntu's
# rsyslog.conf ships it; BSD syslogd always): N identical lines become one line that
# stands for them (ingest.repeats)
SG = "2026-11-30 09:17:01 [1234] Request(default/socialnet/-) http://www.facebook.com/ 10.0.0.5/- jsmith GET REDIRECT"


def _ingest(tmp_path, name: str, lines: list[str]):
    log = tmp_path / name
    log.write_text("\n".join(lines) + "\n")
    settled(log)
    store = Store(tmp_path / ("store-" + name))
    cfg = Config(store_path=store.root, retention=Retention(12), ingest=Ingest())
    with store.lock():
        r, = ingest_paths(store, cfg, [log], now=utc(2026, 12, 1))
    return store, r


def test_repeated_message_lines_are_the_requests_they_stand_for(tmp_path, both):
    """One squidGuard block, then rsyslog's 'message repeated 3 times: [ MSG]', syslogd's
    'last message repeated 2 times' (the line before: the repeat, so its message) and
    macOS's '--- last message repeated 1 time ---', then another line: 1 + 3 + 2 + 1 + 1
    = 8 requests, as 8 lines (each repeat line counts as the lines it stands for)."""
    other = SG.replace("09:17:01", "09:18:00").replace("facebook", "instagram")
    lines = ["Nov 30 09:17:01 proxy squidGuard[1234]: " + SG,
             "Nov 30 09:17:01 proxy squidGuard[1234]: message repeated 3 times: [ " + SG + "]",
             "Nov 30 09:17:05 proxy last message repeated 2 times",
             "Nov 30 09:17:06 proxy --- last message repeated 1 time ---",
             "Nov 30 09:18:00 proxy squidGuard[1234]: " + other]
    store, r = _ingest(tmp_path, "sg.log", lines)
    assert (r.format, r.rows, r.rejected, r.status) == ("squidguard (syslog)", 8, 0, "ok"), r
    assert r.lines == r.rows + r.duplicates + r.expired + r.rejected + r.held_back == 8
    hosts = store.read_parts(store.part_list()).get_column("host").value_counts(sort=True).rows()
    assert hosts == [("www.facebook.com", 7), ("www.instagram.com", 1)]
    # fed again: every one of them a duplicate, nothing stored twice
    with store.lock():
        again, = ingest_paths(store, Config(store_path=store.root, retention=Retention(12), ingest=Ingest()),
                              [tmp_path / "sg.log"], now=utc(2026, 12, 1))
    assert again.rows == 0 and store.read_parts(store.part_list()).height == 8


def test_a_repeat_with_nothing_to_repeat_or_a_cut_message_is_rejected_naming_its_line(tmp_path, both):
    """syslogd's line as a file's first (the line it repeats was in an earlier file), and
    rsyslog's message cut at 800 characters (a squid line without its last fields):
    rejected, each with its line number and text; the good line is kept."""
    cut = (LINE.replace("1700000000", "1796029021")[:60])
    lines = ["Nov 30 09:17:01 proxy last message repeated 4 times",
             "Nov 30 09:17:02 proxy squid[1]: " + LINE.replace("1700000000", "1796029022"),
             "Nov 30 09:17:03 proxy squid[1]: message repeated 2 times: [ " + cut + "]"]
    store, r = _ingest(tmp_path, "cut.log", lines)
    assert (r.rows, r.rejected, r.lines) == (1, 2, 3), r
    bad = store.quarantined_lines().sort("line_no")
    assert bad.get_column("line_no").to_list() == [1, 3]
    assert bad.get_column("line").to_list() == [lines[0], lines[2]]
    assert bad.get_column("reason")[0].startswith("syslog 'last message repeated' line: the line it repeats cannot be read")


def test_message_repeated_inside_a_url_is_no_repeat_line(both):
    url_line = LINE.replace("www.facebook.com:443", "forum.example/message%20repeated%203%20times")
    text = url_line.replace("message%20repeated%20", "message repeated ")
    rows, bad = parse(["Nov 30 09:17:01 proxy squid[1]: " + text])
    assert (rows.height, bad.height) == (1, 0)


def test_another_programs_repeated_line_is_ignored_like_its_lines(tmp_path, both):
    """A firewall's whole syslog: dhcpd's 'message repeated' and syslogd's 'last message
    repeated' after a filterlog line are no lines of the log (ignored, exit 0)."""
    lines = [FILTERLOG, "Nov 19 09:17:01 pfSense last message repeated 5 times",
             "Nov 19 09:17:02 pfSense dhcpd: message repeated 2 times: [ DHCPACK on 10.0.0.50 to 00:11:22:33:44:55]",
             "Nov 30 09:17:03 pfSense (squid-1)[1]: " + LINE.replace("1700000000", "1796029023"),
             "Nov 30 09:17:04 pfSense (squid-1)[1]: message repeated 2 times: [ "
             + LINE.replace("1700000000", "1796029023") + "]"]
    _, r = _ingest(tmp_path, "fw.log", lines)
    assert (r.format, r.rows, r.rejected, r.status) == ("squid (syslog)", 3, 0, "ok"), r
    assert r.ignored == 3 and r.lines == 3


def test_a_last_message_repeated_line_opening_a_read_repeats_the_last_line_of_the_one_before(tmp_path, monkeypatch,
                                                                                             both):
    """The reader's batches are 16 MiB: a syslogd repeat line that opens one repeated the
    line that closed the one before, and was rejected (the requests lost, exit 1)."""
    from ingest import reader

    monkeypatch.setattr(reader, "BLOCK", 4096)
    pair = ["Nov 30 09:17:01 proxy squidGuard[1234]: " + SG, "Nov 30 09:17:05 proxy last message repeated 2 times"]
    _, r = _ingest(tmp_path, "many.log", pair * 300)
    assert (r.rows, r.rejected, r.status) == (900, 0, "ok"), r
    assert r.lines == r.rows + r.duplicates + r.expired + r.rejected + r.held_back == 900


def test_a_resumed_file_counts_the_lines_before_it_once(tmp_path, both):
    """The committed prefix's counted lines (rows beyond one per repeat line subtracted)
    are its duplicates; the other programs' lines there stay ignored."""
    dhcp = "Nov 30 09:17:00 pfSense dhcpd: DHCPACK on 10.0.0.50 to 00:11:22:33:44:55 via igb1"
    sq = "Nov 30 09:17:03 pfSense (squid-1)[1]: " + LINE.replace("1700000000", "1796029023")
    lines = [dhcp] * 3 + [sq, "Nov 30 09:17:04 pfSense (squid-1)[1]: message repeated 5 times: [ "
                          + LINE.replace("1700000000", "1796029023") + "]"]
    store, one = _ingest(tmp_path, "fw.log", lines)
    assert (one.rows, one.lines, one.ignored) == (6, 6, 3), one
    log = tmp_path / "fw.log"
    with log.open("a") as f:
        f.write(sq.replace("1796029023", "1796029083") + "\n")
    settled(log)
    with store.lock():
        two, = ingest_paths(store, Config(store_path=store.root, retention=Retention(12), ingest=Ingest()), [log],
                            now=utc(2026, 12, 1))
    assert (two.rows, two.ignored) == (1, 3), two
    assert two.lines == two.rows + two.duplicates + two.expired + two.rejected + two.held_back
    assert store.read_parts(store.part_list()).height == 7


def test_a_last_message_repeated_line_opening_a_resumed_file_repeats_the_line_before_it(tmp_path, both):
    """syslogd writes the repeat line on its next message, often after the nightly run
    read the line it repeats: the next run reads that line back (a plain file)."""
    first = "Nov 30 09:17:01 proxy squidGuard[1234]: " + SG
    store, one = _ingest(tmp_path, "live.log", [first])
    assert one.rows == 1
    log = tmp_path / "live.log"
    with log.open("a") as f:
        f.write("Nov 30 09:17:09 proxy last message repeated 4 times\n")
    settled(log)
    with store.lock():
        two, = ingest_paths(store, Config(store_path=store.root, retention=Retention(12), ingest=Ingest()), [log],
                            now=utc(2026, 12, 1))
    assert (two.rows, two.rejected, two.status) == (4, 0, "ok"), two
    assert two.lines == two.rows + two.duplicates + two.expired + two.rejected + two.held_back
    assert store.read_parts(store.part_list()).height == 5


def test_repeat_lines_that_cannot_be_read_are_rejected_each_with_its_reason(tmp_path, both):
    """A repeat of a line that is not UTF-8 stored rows the line itself was refused
    (user 'j\ufffdsmith'); 0 repeats vanished from the counts; one after a blank line was
    said to open the file; a chain after an unreadable repeat was parsed as squid; a
    count of millions would flood memory."""
    bad_utf8 = ("Nov 30 09:17:01 proxy squidGuard[1]: " + SG.replace("jsmith", "j\udce9smith")).encode(
        "utf-8", "surrogateescape")
    good = ("Nov 30 09:17:01 proxy squidGuard[1]: " + SG).encode()
    lines = [bad_utf8, b"Nov 30 09:17:02 proxy last message repeated 3 times",
             b"Nov 30 09:17:03 proxy squidGuard[1]: message repeated 2 times: [ " + bad_utf8.split(b": ", 1)[1] + b"]",
             good, b"", b"Nov 30 09:17:04 proxy last message repeated 2 times",  # after a blank line: line 4's
             b"Nov 30 09:17:05 proxy squidGuard[1]: message repeated 0 times: [ " + SG.encode() + b"]",
             b"Nov 30 09:17:06 proxy squidGuard[1]: message repeated 2 times: [ ]",
             b"Nov 30 09:17:07 proxy --- last message repeated 1 time ---",
             b"Nov 30 09:17:08 proxy squidGuard[1]: message repeated 5000000 times: [ " + SG.encode() + b"]"]
    log = tmp_path / "odd.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    settled(log)
    store = Store(tmp_path / "store")
    with store.lock():
        r, = ingest_paths(store, Config(store_path=store.root, retention=Retention(12), ingest=Ingest()), [log],
                          now=utc(2026, 12, 1))
    assert (r.rows, r.rejected) == (3, 7), r  # line 4 and its two repeats
    assert r.lines == r.rows + r.duplicates + r.expired + r.rejected + r.held_back
    assert set(store.read_parts(store.part_list()).get_column("user")) == {"jsmith"}
    reasons = dict(store.quarantined_lines().select("line_no", "reason").iter_rows())
    assert reasons[1] == reasons[2] == reasons[3] == "invalid utf-8"
    assert reasons[7].startswith("syslog repeat line of 0 messages")
    assert reasons[8].startswith("syslog repeat line that names no message")
    assert reasons[9].startswith("syslog repeat line that names no message")  # the chain after line 8
    assert reasons[10].startswith("syslog repeat line of 5,000,000 messages (1 to 100,000 are read)")


def test_a_count_of_many_digits_gets_the_flood_reason_and_a_resumed_non_utf8_line_is_refused(tmp_path, both):
    lines = ["Nov 30 09:17:01 proxy squidGuard[1]: " + SG,
             "Nov 30 09:17:02 proxy squidGuard[1]: message repeated 10000000000 times: [ " + SG + "]"]
    store, r = _ingest(tmp_path, "big.log", lines)
    assert (r.rows, r.rejected) == (1, 1), r
    assert store.quarantined_lines().get_column("reason")[0].startswith("syslog repeat line of 10,000,000,000")
    # a resumed plain file whose last read line repeats a non-UTF-8 message: a syslogd repeat of it is refused
    log = tmp_path / "live.log"
    log.write_bytes(("Nov 30 09:17:00 proxy squidGuard[1]: " + SG + "\n"
                     "Nov 30 09:17:01 proxy squidGuard[1]: message repeated 2 times: [ "
                     + SG.replace("jsmith", "j\udce9smith") + "]").encode("utf-8", "surrogateescape") + b"\n")
    settled(log)
    cfg = Config(store_path=store.root, retention=Retention(12), ingest=Ingest())
    with store.lock():
        ingest_paths(store, cfg, [log], now=utc(2026, 12, 1))
    with log.open("ab") as f:
        f.write(b"Nov 30 09:17:09 proxy last message repeated 4 times\n")
    settled(log)
    with store.lock():
        two, = ingest_paths(store, cfg, [log], now=utc(2026, 12, 1))
    assert (two.rows, two.rejected) == (0, 1), two
