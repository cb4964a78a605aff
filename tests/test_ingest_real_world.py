"""Logs as real deployments leave them: no line lost silently,
one odd file never stops the others, directories as squid leaves them, lines over
the limit, CR-only and CRLF line ends. Every summary adds up:
lines = rows + duplicates + expired + rejected + held back."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import time
import tomllib
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from ingest import pipeline
from ingest.pipeline import ingest_paths
from surfaudit.config import Config, Ingest, Retention
from surfaudit.store import Store
from tests.conftest import SAMPLE_CONFIG, run_cli, squid_line, utc

NOW = utc(2026, 11, 20, 12, 0)
T = [utc(2026, 11, 2, 9, 0, s) for s in range(10)]


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store")


def cfg_for(store, **ingest) -> Config:
    return Config(store_path=store.root, retention=Retention(12), ingest=Ingest(**ingest))


def ingest(store, *paths, fmt="auto", **ingest_keys):
    with store.lock():
        return ingest_paths(store, cfg_for(store, **ingest_keys), list(paths), fmt=fmt, now=NOW)


def count(store) -> int:
    con = duckdb.connect()
    store.events_view(con)
    return con.sql("select count(*) from events").fetchall()[0][0]


def adds_up(r) -> bool:
    return r.lines == r.rows + r.duplicates + r.expired + r.rejected + r.held_back


def settled(path: Path, seconds: int = 3600) -> Path:
    old = time.time() - seconds
    os.utime(path, (old, old))
    return path


# -- point 5: no line lost silently -------------------------------------------

def test_finished_plain_file_without_final_newline_reads_its_last_line(store, tmp_path):
    log = tmp_path / "export.log"
    log.write_text("\n".join(squid_line(t) for t in T[:3]))  # no final newline
    settled(log)
    r, = ingest(store, log)
    assert (r.lines, r.rows, r.held_back, r.rejected) == (3, 3, 0, 0) and adds_up(r)
    again, = ingest(store, log)  # exactly once: nothing new
    assert (again.rows, again.duplicates) == (0, 3) and adds_up(again)
    assert count(store) == 3


def test_live_file_holds_back_its_unfinished_line_and_reads_it_next_run(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(squid_line(T[0]) + "\n" + squid_line(T[1]) + "\n" + squid_line(T[2])[:40])
    r, = ingest(store, log)  # just written: live
    assert (r.lines, r.rows, r.held_back) == (3, 2, 1) and adds_up(r)
    with open(log, "a") as fh:  # squid finishes the line
        fh.write(squid_line(T[2])[40:] + "\n")
    r2, = ingest(store, log)
    assert (r2.rows, r2.duplicates, r2.held_back) == (1, 2, 0) and adds_up(r2)
    assert count(store) == 3


def test_settle_time_decides_whether_a_plain_file_is_finished(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(squid_line(T[0]) + "\n" + squid_line(T[1]))
    settled(log, 100)
    r, = ingest(store, log, settle_seconds=300)  # untouched 100 s < 300 s: still live
    assert (r.rows, r.held_back) == (1, 1)
    r2, = ingest(store, log, settle_seconds=60)  # 100 s >= 60 s: finished
    assert (r2.rows, r2.duplicates, r2.held_back) == (1, 1, 0) and adds_up(r2)


def test_gzip_without_final_newline_is_finished(store, tmp_path):
    gz = tmp_path / "access.log.1.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("\n".join(squid_line(t) for t in T[:4]))
    r, = ingest(store, gz)  # mtime is now, but a compressed file is complete
    assert (r.lines, r.rows, r.held_back) == (4, 4, 0) and adds_up(r)


def test_rotated_gzip_of_a_file_read_to_its_unterminated_end_adds_nothing(store, tmp_path):
    log = tmp_path / "access.log"
    body = "\n".join(squid_line(t) for t in T[:3])
    log.write_text(body)
    settled(log)
    assert ingest(store, log)[0].rows == 3
    gz = tmp_path / "access.log.1.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(body + "\n")  # the same content, now with its newline
    r, = ingest(store, gz)
    assert r.rows == 0 and r.rejected == 0 and adds_up(r)
    assert count(store) == 3


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_crlf_and_cr_only_line_ends_are_line_ends(store, tmp_path, ending):
    log = tmp_path / "access.log"
    log.write_bytes(ending.join(squid_line(t) for t in T[:5]).encode() + ending.encode())
    r, = ingest(store, log)
    assert (r.format, r.lines, r.rows, r.rejected, r.held_back) == ("squid", 5, 5, 0, 0) and adds_up(r)


def test_excel_for_mac_csv_with_cr_only_line_ends(store, tmp_path):
    """'CSV (Macintosh)': CR line ends; read as one unterminated line it was 0 lines, exit 0."""
    csv = tmp_path / "export.csv"
    lines = ["Timestamp,Username,Client IP,URL,Category,Action"] + [
        f"2026-11-02T09:00:0{i}Z,amorgan,10.0.0.{i},https://www.facebook.com/,Social Networking,"
        f"{'Blocked' if i % 2 else 'Allowed'}" for i in range(6)]
    csv.write_bytes("\r".join(lines).encode())  # and no final line end
    settled(csv)
    r, = ingest(store, csv)
    assert (r.format, r.lines, r.rows, r.rejected, r.ignored) == ("surfprotect", 6, 6, 0, 1) and adds_up(r)


def test_blank_lines_and_header_are_counted_apart(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(f"\n{squid_line(T[0])}\n\n   \n{squid_line(T[1])}\n")
    r, = ingest(store, log)
    assert (r.lines, r.rows, r.ignored) == (2, 2, 3) and adds_up(r)


# -- point 6: one file never stops the others -----------------------------------

def test_a_parser_crash_fails_that_file_alone(store, tmp_path, monkeypatch):
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text(squid_line(T[0], url="http://boom.example/") + "\n")
    second.write_text(squid_line(T[1]) + "\n")
    real = pipeline._fix_invalid_utf8

    def explode(batch, bad):
        if b"boom.example" in bytes(batch.buf):
            raise RuntimeError("secret http://boom.example/ jsmith")
        return real(batch, bad)

    monkeypatch.setattr(pipeline, "_fix_invalid_utf8", explode)
    a, b = ingest(store, first, second)
    assert a.status == "failed" and a.rows == 0
    assert a.error == f"{first}: unexpected error while reading it (RuntimeError); nothing from it was stored"
    assert "boom" not in a.error and "jsmith" not in a.error  # no URL or name in the message
    assert (b.status, b.rows) == ("ok", 1)
    assert count(store) == 1


def test_one_bad_epoch_among_good_lines_is_one_rejected_line(store, tmp_path):
    log = tmp_path / "access.log"
    good = [squid_line(t) for t in T[:4]]
    log.write_text("\n".join([good[0], good[1], squid_line(999999999999.0), good[2], good[3]]) + "\n")
    r, = ingest(store, log)
    assert (r.lines, r.rows, r.rejected, r.error) == (5, 4, 1, None) and adds_up(r)
    q = duckdb.sql("select line_no, reason from read_parquet(?)", params=[[str(p) for p in store.root.rglob("*.parquet")
                                                                         if "quarantine" in str(p)]]).fetchall()
    assert q == [(3, "bad timestamp")]


def test_bare_cr_in_a_first_line_does_not_stop_the_directory(store, tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    (d / "odd.csv").write_bytes(b"Timestamp,User\rname,URL,Action\n2026-11-02T09:00:00Z,a,b,allowed\n")
    (d / "netdb.state").write_bytes(b"\x00\x01\r\x02binary\rjunk")
    (d / "access.log").write_text(squid_line(T[0]) + "\n")
    settled(d / "access.log")
    results = ingest(store, d)
    by = {Path(r.file).name: r for r in results}
    assert by["access.log"].rows == 1 and by["access.log"].status == "ok"
    assert by["netdb.state"].status == "skipped"
    # The bare CR ends the header line: a CSV whose header names no known columns. It is
    # named like an export, so it fails with the reason (never skipped in silence), alone.
    assert by["odd.csv"].status == "failed" and "unknown log format" in by["odd.csv"].error
    assert all(r.error is None or "\n" not in r.error for r in results)


# -- point 7: directories as squid leaves them ----------------------------------

def _squid_dir(tmp_path: Path) -> Path:
    d = tmp_path / "squid"
    d.mkdir()
    (d / "access.log").write_text("".join(squid_line(t) + "\n" for t in T[5:8]))
    with gzip.open(d / "access.log.1.gz", "wt") as fh:
        fh.write("".join(squid_line(t) + "\n" for t in T[:5]))
    (d / "cache.log").write_text("2026/11/02 09:00:00 kid1| Starting Squid Cache version 6.10 for x86_64-pc-linux-gnu...\n"
                                 "2026/11/02 09:00:00 kid1| Service Name: squid\n")
    (d / "store.log").write_text("1762074000.123 RELEASE -1 FFFFFFFF 5E5A4B1C9D2F5E5A4B1C9D2F5E5A4B1C 200 1762073990 "
                                 "-1 -1 text/html 1234/1234 GET http://www.bbc.co.uk/\n")
    (d / "netdb.state").write_bytes(b"\x00\x00\x01\x00" * 64)
    (d / "squid.pid").write_text("1234\n")
    (d / "README").write_text("Logs of the proxy. Rotated nightly.\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(d / "access.log", arcname="access.log")
    (d / "logs-backup.tar.gz").write_bytes(buf.getvalue())
    (d / "backup-no-suffix").write_bytes(buf.getvalue())  # a tar.gz under another name
    return d


def test_directory_as_squid_leaves_it(store, tmp_path):
    d = _squid_dir(tmp_path)
    results = ingest(store, d)
    read = sorted(Path(r.file).name for r in results if not r.skipped)
    assert read == ["access.log", "access.log.1.gz"]
    skipped = {Path(r.file).name for r in results if r.skipped}
    assert skipped == {"cache.log", "store.log", "netdb.state", "squid.pid", "README", "logs-backup.tar.gz",
                       "backup-no-suffix"}
    assert count(store) == 8
    assert all(r.error is None for r in results)


def test_nightly_on_a_squid_directory_exits_0_and_lists_skipped_files(tmp_path):
    d = _squid_dir(tmp_path)
    run = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(tmp_path / "s"), "ingest", str(d),
                  env={"SURFAUDIT_NOW": "2026-11-20T12:00:00Z"})
    assert run.code == 0, run.err
    assert run.err == ""
    for name in ("cache.log", "store.log", "netdb.state", "squid.pid", "README", "logs-backup.tar.gz"):
        assert f"skipped {d / name}:" in run.out
    night = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(tmp_path / "s2"), "nightly", str(d),
                    env={"SURFAUDIT_NOW": "2026-11-20T12:00:00Z"})
    assert night.code == 0, night.out + night.err


def test_subdirectories_are_read_only_when_recursive(store, tmp_path):
    d = tmp_path / "logs"
    (d / "school-a").mkdir(parents=True)
    (d / "access.log").write_text(squid_line(T[0]) + "\n")
    (d / "school-a" / "access.log").write_text(squid_line(T[1], user="other") + "\n")
    assert [Path(r.file).name for r in ingest(store, d)] == ["access.log"]
    results = ingest(store, d, recursive=True)
    assert sorted(r.file for r in results) == sorted([str(d / "access.log"), str(d / "school-a" / "access.log")])
    assert count(store) == 2


def test_a_named_fifo_is_one_clear_failure(store, tmp_path):
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)
    ok = tmp_path / "access.log"
    ok.write_text(squid_line(T[0]) + "\n")
    a, b = ingest(store, fifo, ok)
    assert a.error == f"{fifo}: a FIFO (named pipe), not a log file; give the log file itself"
    assert b.rows == 1


def test_an_unknown_named_file_fails_with_a_hint(store, tmp_path):
    odd = tmp_path / "access.log"
    odd.write_text("1762074000.123 12 10.0.0.5 GET http://x.com/ 200\n" * 3)
    r, = ingest(store, odd)
    assert r.status == "failed" and "unknown log format" in r.error and "logformat" in r.error


def test_unknown_format_option_is_a_usage_error(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(squid_line(T[0]) + "\n")
    run = run_cli("--store", str(tmp_path / "s"), "ingest", "--format", "apache", str(log))
    assert run.code == 2 and run.out == ""
    assert run.err.startswith("surfaudit: ") and "unknown log format 'apache'" in run.err
    assert len(run.err.strip().splitlines()) == 1


def test_ingest_help_lists_every_format(tmp_path):
    run = run_cli("ingest", "--help")
    assert run.code == 0
    for name in ("squid", "surfprotect", "e2guardian", "squidguard", "fortigate", "[formats.NAME]"):
        assert name in run.out


# -- point 8 and 4: lines over the limit ----------------------------------------

def test_a_line_over_the_limit_is_rejected_as_too_long(store, tmp_path):
    log = tmp_path / "access.log"
    huge = squid_line(T[1], url="http://x.com/" + "a" * 200_000)
    log.write_text("\n".join([squid_line(T[0]), huge, squid_line(T[2])]) + "\n")
    r, = ingest(store, log, max_line_bytes=65536)
    assert (r.lines, r.rows, r.rejected) == (3, 2, 1) and adds_up(r)
    q = duckdb.sql("select line_no, reason, length(line) from read_parquet(?)",
                   params=[[str(p) for p in store.root.rglob("*.parquet") if "quarantine" in str(p)]]).fetchall()
    assert q[0][0] == 2 and q[0][1].startswith("line too long (200,") and q[0][2] <= 201


def test_a_line_over_a_batch_is_read_past_without_holding_it(store, tmp_path, monkeypatch):
    from ingest import reader

    log = tmp_path / "access.log"
    huge = "1762074000.000 " + "z" * 3_000_000
    log.write_text("\n".join([squid_line(T[0]), huge, squid_line(T[2]), squid_line(T[3])]) + "\n")
    monkeypatch.setattr(reader, "BLOCK", 256 * 1024)  # so the line spans several reads
    monkeypatch.setattr(pipeline, "iter_batches",
                        lambda *a, **k: reader.iter_batches(*a, **{**k, "block": 256 * 1024}))
    r, = ingest(store, log)
    assert (r.lines, r.rows, r.rejected, r.held_back) == (4, 3, 1, 0) and adds_up(r)
    again, = ingest(store, log)
    assert (again.rows, again.duplicates) == (0, 4)


def test_a_huge_first_line_does_not_defeat_detection(store, tmp_path):
    log = tmp_path / "access.log"
    huge = "x" * (1_200_000)
    log.write_text("\n".join([huge] + [squid_line(t) for t in T[:5]]) + "\n")
    r, = ingest(store, log)
    assert (r.format, r.rows, r.rejected) == ("squid", 5, 1) and adds_up(r)


@pytest.mark.parametrize("bom,codec", [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")])
def test_a_log_saved_as_utf16_is_detected_read_and_read_once(store, tmp_path, bom, codec):
    """Notepad's "Unicode" / Excel's "Unicode Text": UTF-16 with a BOM, CRLF."""
    log = tmp_path / "access.log"
    log.write_bytes(bom + "".join(squid_line(t, user="josé") + "\r\n" for t in T[:4]).encode(codec))
    settled(log)
    r, = ingest(store, log)
    assert (r.format, r.lines, r.rows, r.rejected) == ("squid", 4, 4, 0) and adds_up(r)
    gz = tmp_path / "access.log.1.gz"
    gz.write_bytes(gzip.compress(log.read_bytes()))
    again, = ingest(store, gz)  # the same file rotated and compressed: nothing new
    assert (again.rows, again.duplicates) == (0, 4) and adds_up(again)
    con = duckdb.connect()
    store.events_view(con)
    assert con.sql("select distinct username from events").fetchall() == [("josé",)]


def test_a_vendor_export_saved_as_unicode_text(store, tmp_path):
    """Excel's "Unicode Text": UTF-16LE, tab-separated, CRLF, accented names."""
    from surfaudit.config import parse_config

    cfg = parse_config(tomllib.loads('[formats.smoothwall]\ntime = "Date"\nuser = "User"\nurl = "URL"\n'
                                    'decision = "Action"\ntime_format = "%d/%m/%Y %H:%M"\n'
                                    'delimiter = "\\t"\nencoding = "utf-16"\n'))
    cfg = replace(cfg, store_path=store.root, retention=Retention(12))
    text = "Date\tUser\tURL\tAction\r\n" + "".join(
        f"02/11/2026 09:0{i}\tZoë Brontë\thttps://www.facebook.com/{i}\t{'Blocked' if i % 2 else 'Allowed'}\r\n"
        for i in range(5))
    csv = tmp_path / "export.txt"
    csv.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    settled(csv)
    with store.lock():
        r, = ingest_paths(store, cfg, [csv], fmt="smoothwall", now=NOW)
    assert (r.lines, r.rows, r.rejected, r.ignored) == (5, 5, 0, 1) and adds_up(r)  # the header is counted apart
    con = duckdb.connect()
    store.events_view(con)
    assert con.sql("select distinct username from events").fetchall() == [("Zoë Brontë",)]
    assert con.sql("select count(*) from events where action = 'blocked'").fetchall() == [(2,)]


def test_detection_skips_a_bom_and_blank_lines(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_bytes(b"\xef\xbb\xbf\n\n" + "".join(squid_line(t) + "\n" for t in T[:3]).encode())
    r, = ingest(store, log)
    assert r.format == "squid" and r.rows == 3


def test_json_summary_has_held_back_and_status(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(squid_line(T[0]) + "\n" + squid_line(T[1])[:30])
    run = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(tmp_path / "s"), "ingest", "--summary", "json",
                  str(log), env={"SURFAUDIT_NOW": "2026-11-20T12:00:00Z"})
    assert run.code == 0, run.err
    (r,) = json.loads(run.out)
    assert (r["lines"], r["rows"], r["held_back"], r["status"]) == (2, 1, 1, "ok")
    table = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(tmp_path / "s2"), "ingest", str(log),
                    env={"SURFAUDIT_NOW": "2026-11-20T12:00:00Z"})
    assert "held back" in table.out and f"held back {log}:" in table.out


def test_a_vendor_time_format_polars_cannot_read_is_a_config_error(tmp_path):
    cfg = tmp_path / "surfaudit.toml"
    cfg.write_text('[formats.filterx]\ntime = "When"\nurl = "URL"\ndecision = "Action"\nuser = "User"\n'
                   'time_format = "%d/%m/%Y %Q"\n')
    log = tmp_path / "export.csv"
    log.write_text("When,User,URL,Action\n02/11/2026 x,a,http://x.com/,allowed\n")
    run = run_cli("--config", str(cfg), "--store", str(tmp_path / "s"), "ingest", str(log))
    assert run.code == 2 and run.out == ""
    assert run.err.startswith(f"surfaudit: error: {cfg}: [formats.filterx].time_format:") and "%Q" in run.err
    assert len(run.err.strip().splitlines()) == 1


def test_a_bad_squid_logformat_stops_before_any_file(tmp_path):
    cfg = tmp_path / "surfaudit.toml"
    cfg.write_text('[formats.squid]\nlogformat = "%ts.%03tu %>a %Zz %ru"\n')
    log = tmp_path / "access.log"
    log.write_text(squid_line(T[0]) + "\n")
    for command in ("ingest", "nightly"):
        run = run_cli("--config", str(cfg), "--store", str(tmp_path / "s"), command, str(log))
        assert run.code == 2 and run.out == ""
        assert run.err.startswith(f"surfaudit: error: {cfg}: [formats.squid].logformat:") and "%Zz" in run.err
        assert len(run.err.strip().splitlines()) == 1
        assert not (tmp_path / "s").exists()  # the mistake made no store


def test_an_unknown_format_makes_no_store(tmp_path):
    run = run_cli("--store", str(tmp_path / "s"), "ingest", "--format", "sqiud", str(tmp_path / "x.log"))
    assert run.code == 2 and run.out == "" and "unknown log format 'sqiud'" in run.err
    assert not (tmp_path / "s").exists()


def test_a_bare_cr_inside_an_lf_file_is_a_line_end(store, tmp_path):
    """Two exports pasted together, or one line saved by a Mac tool: no line swallowed."""
    log = tmp_path / "mixed.log"
    log.write_bytes(f"{squid_line(T[0])}\r\n{squid_line(T[1])}\r{squid_line(T[2])}\n".encode())
    r, = ingest(store, log)
    assert (r.lines, r.rows, r.rejected) == (3, 3, 0) and adds_up(r)


def test_a_gzip_with_a_damaged_header_is_corrupt_not_an_unexpected_error(store, tmp_path):
    gz = tmp_path / "access.log.2.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00garbage" + b"\x00" * 64)
    r, = ingest(store, gz, fmt="squid")
    assert r.status == "failed" and "corrupt or truncated file" in r.error


def test_a_mixed_fortigate_feed_counts_other_records_apart(store, tmp_path):
    web = ('date=2026-11-02 time=09:00:0{s} tz="+0000" logid="0316013056" type="utm" subtype="webfilter" '
           'srcip=10.0.0.5 user="amorgan" hostname="www.facebook.com" action="blocked" url="/" catdesc="Social"')
    traffic = ('date=2026-11-02 time=09:00:0{s} tz="+0000" logid="0000000013" type="traffic" subtype="forward" '
               'srcip=10.0.0.5 dstip=1.2.3.4 action="accept"')
    log = tmp_path / "forti.log"
    log.write_text("\n".join((web if s % 3 == 0 else traffic).format(s=s) for s in range(9)) + "\n")
    r, = ingest(store, log)
    assert (r.format, r.rows, r.rejected, r.not_requests, r.status) == ("fortigate", 3, 0, 6, "ok") and adds_up(r)


def test_fortios_5_writes_the_verdict_as_status(store, tmp_path):
    line = ('date=2026-11-02 time=09:15:00 devname=FortiGate-VM64 logid=0316013057 type=utm subtype=webfilter '
            'eventtype=ftgd_blk level=warning srcip=172.21.5.11 dstport=80 service="http" hostname="www.example.com" '
            'status="blocked" url="/test_adult_url" sentbyte=820 rcvdbyte=1448 catdesc="Pornography"')
    log = tmp_path / "forti5.log"
    log.write_text(line + "\n")
    r, = ingest(store, log)
    assert (r.rows, r.rejected) == (1, 0)
    con = duckdb.connect()
    store.events_view(con)
    assert con.sql("select action, host, url, category from events").fetchall() == [
        ("blocked", "www.example.com", "http://www.example.com/test_adult_url", "Pornography")]


def test_a_csv_header_error_names_the_file(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(squid_line(T[0]) + "\n")
    r, = ingest(store, log, fmt="surfprotect")
    assert r.status == "failed" and r.error.startswith(f"{log}: ") and "header" in r.error


def test_an_access_log_in_a_directory_that_no_format_fits_fails_loudly(store, tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    (d / "access.log").write_text('10.0.0.5 - jsmith [19/Nov/2026:09:17:01 +0000] "GET http://www.facebook.com/ '
                                  'HTTP/1.1" 403 3900 "-" "Mozilla/5.0" TCP_DENIED:HIER_NONE\n' * 3)
    r, = ingest(store, d)
    assert r.status == "failed" and 'logformat = "combined"' in r.error


def test_nul_run_before_the_lines_does_not_hide_the_format(store, tmp_path):
    log = tmp_path / "access.log"
    log.write_bytes(b"\x00" * 5_000_000 + "".join(squid_line(t) + "\n" for t in T[:10]).encode())
    r, = ingest(store, log)
    assert (r.format, r.rows, r.rejected) == ("squid", 9, 1) and adds_up(r)  # the first line carries the NULs


def test_ingest_summary_as_csv(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(squid_line(T[0]) + "\n")
    run = run_cli("--config", str(SAMPLE_CONFIG), "--store", str(tmp_path / "s"), "ingest", "--summary", "csv",
                  str(log), env={"SURFAUDIT_NOW": "2026-11-20T12:00:00Z"})
    assert run.code == 0 and run.err == ""
    header, row = run.out.strip().splitlines()
    assert header.startswith("file,format,lines,rows,")
    assert row.startswith(f"{log},squid,1,1,")


def test_two_exports_with_the_same_header_and_bad_lines(store, tmp_path):
    """Same header = same lineage: the second export is de-duplicated against the
    first one's rows and quarantine (which the store must find, not refuse)."""
    head = "Timestamp,Username,Client IP,URL,Category,Action\n"
    one, two = tmp_path / "week1.csv", tmp_path / "week2.csv"
    one.write_text(head + "2026-11-02T09:00:00Z,a,10.0.0.1,http://x.com/,News,Allowed\nnot,a,good,line\n"
                   "2026-11-02T09:00:01Z,a,10.0.0.1,http://x.com/,News,Allowed\n")
    two.write_text(head + "2026-11-09T09:00:00Z,b,10.0.0.2,http://y.com/,News,Blocked\nalso,bad\n")
    settled(one)
    settled(two)
    a, = ingest(store, one)
    b, = ingest(store, two)
    assert (a.rows, a.rejected, a.error) == (2, 1, None) and adds_up(a)
    assert (b.rows, b.rejected, b.error) == (1, 1, None) and adds_up(b)
    assert count(store) == 3


SP_HEADER = ["Date/Time", "Username", "IP Address", "URL", "Category", "Action"]
SP_ROWS = [["16/06/2026 10:00", "jsmith", "10.0.0.5", "https://www.facebook.com/", "Social Networking", "Blocked"],
           ["16/06/2026 10:03", "Zo\u00eb Brown", "10.0.0.6", "https://www.bbc.co.uk/news", "News; Media", "Allowed"]]


@pytest.mark.parametrize("sep,prefix,encoding", [
    (";", "\ufeff", "utf-8"), (";", "sep=;\r\n", "utf-8"), (";", "SEP=;;;;;;\r\n", "utf-8"),
    ("\t", "\ufeff", "utf-16"), ("|", "", "utf-8"), (",", "sep=,\r\n", "utf-8"),
])
def test_a_surfprotect_export_resaved_by_excel_reads_whatever_its_delimiter(tmp_path, sep, prefix, encoding, both):
    """Excel saves a CSV with ';' where the decimal mark is a comma, may write its
    'sep=;' line first, and saves 'Unicode Text' as UTF-16 with tabs: each said "a CSV
    export whose header this version does not know" (the columns were all there)."""
    def cell(c: str) -> str:
        return f'"{c}"' if sep in c or ";" in c and sep != "\t" else c
    body = prefix + "".join(sep.join(cell(c) for c in row) + "\r\n" for row in [SP_HEADER, *SP_ROWS])
    log = tmp_path / "export.csv"
    log.write_bytes(body.encode(encoding))
    settled(log)
    store = Store(tmp_path / "store")
    r, = ingest(store, log)
    assert (r.format, r.rows, r.rejected, r.lines) == ("surfprotect", 2, 0, 2), r
    rows = store.read_parts(store.part_list()).sort("ts")
    assert rows.select("user", "host", "action", "category").rows() == [
        ("jsmith", "www.facebook.com", "blocked", "Social Networking"),
        ("zo\u00eb brown", "www.bbc.co.uk", "allowed", "News; Media")]


def test_a_vendor_csv_after_an_excel_sep_line_reads_its_header(tmp_path, both):
    cfg_extra = ('[formats.lightspeed]\ndelimiter = ";"\ntime = "Time"\nuser = "User"\nurl = "URL"\n'
                 'decision = "Verdict"\nallowed = ["ok"]\nblocked = ["deny"]\n'
                 'time_format = "%Y-%m-%d %H:%M:%S"\n')
    from surfaudit.config import parse_config

    log = tmp_path / "ls.csv"
    log.write_text("sep=;\nTime;User;URL;Verdict\n2026-06-16 10:00:00;jsmith;https://www.facebook.com/;deny\n")
    settled(log)
    store = Store(tmp_path / "store")
    cfg = parse_config(tomllib.loads(f'[store]\npath = "{store.root}"\n' + cfg_extra))
    with store.lock():
        r, = ingest_paths(store, cfg, [log], now=NOW)
    assert (r.format, r.rows, r.rejected, r.lines) == ("lightspeed", 1, 0, 1), r


def test_exports_joined_with_cat_skip_each_sep_line_like_each_header(tmp_path, both):
    part = "sep=;\r\n" + ";".join(SP_HEADER) + "\r\n" + ";".join(SP_ROWS[0]) + "\r\n"
    log = tmp_path / "joined.csv"
    log.write_text(part + part.replace("10:00", "11:00"), newline="")
    settled(log)
    r, = ingest(Store(tmp_path / "store"), log)
    assert (r.format, r.rows, r.rejected, r.status) == ("surfprotect", 2, 0, "ok"), r
    assert r.ignored == 4  # the first header and sep line, and both of the second export
