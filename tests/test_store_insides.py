"""The store's insides (issue #15): the Arrow schemas come from the polars ones, a part
is a `Part` value that names the same file as before, and one JSON-lines reader reads
the manifest and the audit log with each one's tolerance of a damaged line."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

from surfaudit.errors import StoreError
from surfaudit.schema import EVENT_SCHEMA, QUARANTINE_SCHEMA, STORED_SCHEMA
from surfaudit.store import ARROW_SCHEMA, SITE_FIELD, STORED_ARROW_SCHEMA, Store, jsonl, manifest
from surfaudit.store.arrow_schema import QUARANTINE_ARROW_SCHEMA, arrow_type
from surfaudit.store.part import Part


# -- schemas -------------------------------------------------------------------------
@pytest.mark.parametrize("arrow, polars", [(ARROW_SCHEMA, EVENT_SCHEMA), (STORED_ARROW_SCHEMA, STORED_SCHEMA),
                                           (QUARANTINE_ARROW_SCHEMA, QUARANTINE_SCHEMA)])
def test_arrow_schemas_agree_with_the_polars_ones_column_by_column(arrow, polars):
    assert arrow.names == list(polars)
    back = pl.from_arrow(arrow.empty_table()).schema
    assert [(name, back[name]) for name in arrow.names] == list(polars.items())


def test_the_stored_types_are_the_ones_parts_have_always_had():
    assert ARROW_SCHEMA.field("ts").type == pa.timestamp("us", tz="UTC")
    assert [ARROW_SCHEMA.field(c).type for c in ("status", "bytes", "elapsed_ms", "url")] == [
        pa.int32(), pa.int64(), pa.int64(), pa.string()]
    assert STORED_ARROW_SCHEMA.names[-1] == "site" and SITE_FIELD == pa.field("site", pa.string())
    assert all(f.nullable for f in STORED_ARROW_SCHEMA)


def test_a_dtype_without_an_arrow_translation_is_refused():
    with pytest.raises(TypeError, match="no Arrow type"):
        arrow_type(pl.Float64())


# -- parts ---------------------------------------------------------------------------
def test_a_part_names_the_file_the_manifest_names():
    part = Part.written("2026-11", "20261102T090000-0123456789", 2)
    assert part.relpath == "events/month=2026-11/part-20261102T090000-0123456789-2.parquet"
    assert part.partition_path == "month=2026-11/part-20261102T090000-0123456789-2.parquet"
    assert Part.written("2026-11", "t").name == "part-t.parquet"
    assert Part.of(part.relpath) == part and Part.of(part) is part
    assert str(part) == part.relpath


@pytest.mark.parametrize("rel", ["events/month=2026-13/part-a.parquet", "events/month=2026-11/../x.parquet",
                                 "quarantine/q-a.parquet", "/etc/passwd", 3])
def test_only_a_part_name_of_this_store_is_a_part(rel):
    with pytest.raises(StoreError, match="is not a part of this store"):
        Part.of(rel)


def test_parts_sort_as_their_paths_do():
    rels = ["events/month=2026-11/part-b.parquet", "events/month=2026-10/part-z.parquet",
            "events/month=2026-11/part-a-1.parquet", "events/month=2026-11/part-a.parquet"]
    assert [p.relpath for p in sorted(Part.of(r) for r in rels)] == sorted(rels)


def test_month_parts_are_parts_and_the_manifest_still_names_strings(tmp_path):
    from tests.test_store import one_row
    from tests.conftest import utc

    store = Store(tmp_path / "s").ensure()
    tx = store.begin("ingest")
    tx.write(pl.concat([one_row(utc(2026, 10, 30, 9)), one_row(utc(2026, 11, 2, 9))]))
    record = tx.commit({})
    parts = store.month_parts()
    assert {m: [p.relpath for p in ps] for m, ps in parts.items()} == {
        "2026-10": [f"events/month=2026-10/part-{record['tx']}.parquet"],
        "2026-11": [f"events/month=2026-11/part-{record['tx']}.parquet"]}
    assert record["parts"] == [p.relpath for ps in parts.values() for p in ps]
    assert store.part_path(parts["2026-11"][0]) == store.root / record["parts"][1]
    assert store.part_stats(parts["2026-11"][0]).part == parts["2026-11"][0]
    tx = store.begin("compact")
    tx.write(store.read_parts(parts["2026-11"]))
    tx.replace(parts["2026-11"])
    again = tx.commit({})
    assert again["removes"] == [parts["2026-11"][0].relpath]
    assert store.part_list() == [parts["2026-10"][0], Part.written("2026-11", again["tx"])]
    assert '"removes":["events/month=2026-11/part-' in store.manifest_path.read_text()


# -- the JSON-lines reader ------------------------------------------------------------
def test_the_reader_numbers_every_line_and_skips_blank_ones():
    text = '{"a":1}\n\n   \n{"b":2\n[3]\n{"c":'
    got = [(line.number, line.readable, line.value) for line in jsonl.lines(text)]
    assert got == [(1, True, {"a": 1}), (4, False, None), (5, True, [3]), (6, False, None)]
    assert jsonl.values(text) == [{"a": 1}, [3]]
    assert next(jsonl.lines("x")).where("m.jsonl") == "m.jsonl line 1"


def test_reading_a_missing_file_is_empty(tmp_path):
    assert jsonl.read_text(tmp_path / "nothing.jsonl") == ""


def _manifest_of(tmp_path, records: int) -> Store:
    store = Store(tmp_path / "s").ensure()
    with store.lock():
        for n in range(records):
            store.append_record({"tx": f"t{n}", "kind": "test", "parts": [], "removes": [], "quarantine": []})
    return store


def test_manifest_a_partial_last_line_is_tolerated_and_closed_off(tmp_path):
    store = _manifest_of(tmp_path, 2)
    with open(store.manifest_path, "a") as fh:
        fh.write('{"tx":"torn","pa')  # a crash mid-append: before the commit point
    assert [r["tx"] for r in store.manifest()] == ["t0", "t1"]
    with store.lock():
        store.append_record({"tx": "t2", "kind": "test", "parts": [], "removes": [], "quarantine": []})
    assert [r["tx"] for r in store.manifest()] == ["t0", "t1", "t2"]
    assert store.manifest_path.read_text().splitlines()[2] == '{"tx":"torn","pa'


def test_manifest_blank_lines_are_skipped_and_keep_the_numbering(tmp_path):
    store = _manifest_of(tmp_path, 2)
    lines = store.manifest_path.read_text().splitlines()
    store.manifest_path.write_text(lines[0] + "\n\n" + lines[1] + "\n")
    parsed = store.manifest_state()
    assert parsed.problems == [] and parsed.lines == [1, 3]


def test_manifest_a_corrupt_middle_line_is_damage_naming_the_file_and_line(tmp_path):
    store = _manifest_of(tmp_path, 3)
    lines = store.manifest_path.read_text().splitlines()
    lines[1] = "#" + lines[1][1:]  # a record garbled in place
    store.manifest_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StoreError) as info:
        store.manifest()
    assert str(info.value) == (
        f"{store.manifest_path} line 3: line 2 is unreadable and this record does not follow the one before it "
        "(a record was edited, removed or damaged); run `surfaudit verify`, restore from a backup")


def test_manifest_a_line_that_is_json_but_no_record_is_damage(tmp_path):
    parsed = manifest.parse('[1]\n', None, "m.jsonl")
    assert parsed.problems == ["m.jsonl line 1: not a manifest record (damaged)"] and parsed.records == []


def test_audit_log_skips_a_corrupt_middle_line_a_partial_last_line_and_blank_lines(tmp_path):
    store = Store(tmp_path / "s").ensure()
    store.audit_path.write_text('{"time":"2026-11-24T08:00:00+00:00","command":"a"}\n'
                                '{"time":"2026-11-24T08:0#garbage\n'
                                '\n'
                                '{"time":"2026-11-24T09:00:00+00:00","command":"b"}\n'
                                '{"time":"2026-11-2')
    assert [e["command"] for e in store.audit_entries()] == ["a", "b"]
    store.append_audit({"time": "2026-11-24T10:00:00+00:00", "command": "c"})
    assert [e["command"] for e in store.audit_entries()] == ["a", "b", "c"]
