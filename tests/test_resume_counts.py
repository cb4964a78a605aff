"""Counts when ingest resumes a grown file, and the line numbers of lines `sane` rejects.

A resumed file's committed prefix is counted as duplicates only for the lines
that were counted then (rows, duplicates, expired, rejected): its blank, header
and other programs' lines were ignored then and are ignored again, so the
totals still add up. A time outside 1990..2099 that a parser lets through is
quarantined with its line number and text, as every rejected line is.
"""

from __future__ import annotations

import os
import time


from ingest.pipeline import ingest_paths
from surfaudit import quarantine
from surfaudit.config import Config, Ingest, Retention
from surfaudit.store import Store
from tests.conftest import run_cli, squid_line, utc

NOW = utc(2026, 11, 20, 12, 0)
OTHER = "Nov 19 09:17:01 pfSense filterlog[5032]: 5,,,1000000103,igb1,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60"


def ingest(store, path):
    cfg = Config(store_path=store.root, retention=Retention(12), ingest=Ingest())
    with store.lock():
        r, = ingest_paths(store, cfg, [path], now=NOW)
    assert r.lines == r.rows + r.duplicates + r.expired + r.rejected + r.held_back, r
    return r


def settle(path):
    old = time.time() - 7200
    os.utime(path, (old, old))


def env(ts) -> str:
    return "Nov 19 09:17:01 pfSense (squid-1)[12345]: " + squid_line(ts)


def test_a_grown_file_counts_only_what_was_counted_as_duplicates(tmp_path, both):
    t = [utc(2026, 11, 19, 9, 0, s) for s in range(20)]
    first = [OTHER, env(t[0]), "", OTHER, env(t[1]), "Nov 19 09:17:02 pfSense (squid-1)[12345]: garbage", OTHER,
             env(utc(2024, 1, 1)), "   ", env(t[2])]
    log = tmp_path / "pfsense.log"
    log.write_text("\n".join(first) + "\n")
    settle(log)
    store = Store(tmp_path / "store")
    one = ingest(store, log)
    assert (one.rows, one.rejected, one.expired, one.duplicates, one.ignored) == (3, 1, 1, 0, 5)
    with open(log, "a") as fh:
        fh.write("\n".join([OTHER, env(t[3]), "", env(t[4])]) + "\n")
    settle(log)
    two = ingest(store, log)
    assert two.duplicates == one.rows + one.rejected + one.expired == 5
    assert (two.rows, two.rejected, two.expired) == (2, 0, 0)
    assert two.ignored == one.ignored + 2
    assert two.lines + two.ignored == len(first) + 4
    three = ingest(store, log)  # nothing new
    assert (three.rows, three.duplicates, three.ignored) == (0, 7, 7)


def test_a_grown_csv_counts_its_header_as_ignored_once(tmp_path, both):
    head = "timestamp,username,client_ip,url,category,action"
    body = [f"2026-11-19T09:00:0{s}Z,anna,10.0.0.1,https://www.facebook.com/,Social,Allowed" for s in range(3)]
    log = tmp_path / "export.csv"
    log.write_text("\n".join([head, body[0], "", body[1]]) + "\n")
    settle(log)
    store = Store(tmp_path / "store")
    one = ingest(store, log)
    assert (one.rows, one.ignored) == (2, 2)
    with open(log, "a") as fh:
        fh.write(body[2] + "\n")
    settle(log)
    two = ingest(store, log)
    assert (two.rows, two.duplicates, two.ignored) == (1, 2, 2)


def test_an_epoch_out_of_range_is_quarantined_with_its_line(tmp_path, both):
    t = [utc(2026, 11, 19, 9, 0, s) for s in range(4)]
    bad = squid_line(9999999999.0)  # year 2286: squid's ten digits pass, the window does not
    lines = [squid_line(t[0]), squid_line(t[1]), "", bad, squid_line(t[2]), squid_line(t[3])]
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    settle(log)
    store = Store(tmp_path / "store")
    r = ingest(store, log)
    assert (r.rows, r.rejected) == (4, 1)
    table = quarantine.list_rejected(store).table
    assert table.select("line_no", "line", "reason").rows() == [
        (4, bad, "timestamp out of range (before 1990 or after 2099)")]
    run = run_cli("--store", str(store.root), "quarantine", "--file", "access.log")
    assert run.code == 0 and "4" in run.out and "9999999999.000" in run.out


def test_many_odd_rows_in_one_batch(tmp_path, both):
    lines = [squid_line(utc(2026, 11, 19, 9, 0, s % 60)) if s % 7 else squid_line(9999999999.0 - s)
             for s in range(300)]
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    settle(log)
    store = Store(tmp_path / "store")
    r = ingest(store, log)
    numbers = quarantine.list_rejected(store).table.get_column("line_no").to_list()
    assert numbers == [s + 1 for s in range(300) if s % 7 == 0] and r.rejected == len(numbers)
