"""The staff directory (DESIGN §5 `[directory]`): parsing, errors that
name the file and line, aliases resolved when reports run, and scope "staff".

2026-01-05 is a Monday in GMT (local = UTC); default [schedule] (work 08:00-17:00).
"""

from __future__ import annotations

import codecs
from datetime import date

import pytest

from surfaudit.directory import load_directory, parse_directory
from surfaudit.errors import ConfigError
from surfaudit.reports import blocked_report, social_report
from tests.conftest_org import evc, org_cfg
from tests.conftest_reports import events_con, rows_of

D = date(2026, 1, 5)
FB = "www.facebook.com"
STAFF = ("\ufeffIDENTITY,Display Name,Group,Site,Aliases,Employee No\n"
         "AMorgan,Alice Morgan,teachers,north,LTE\\AMorgan;amorgan@lte.sch.uk,1001\n"
         "bokafor,Ben Okafor,,,,1002\n")


def test_headers_any_case_extra_columns_ignored_and_keys_lower_cased(tmp_path):
    cfg = org_cfg(tmp_path, "", STAFF)
    d = load_directory(cfg)
    people = d.by_identity()
    assert set(people) == {"amorgan", "bokafor"}
    a = people["amorgan"]
    assert (a.name, a.group, a.site, a.aliases) == ("Alice Morgan", "teachers", "north",
                                                    ("lte\\amorgan", "amorgan@lte.sch.uk"))
    assert d.alias_map()["lte\\amorgan"] == "amorgan" and d.alias_map()["bokafor"] == "bokafor"


def test_only_identity_is_required():
    d = parse_directory(b"identity\nx\n\ny\n", None, set())
    assert [p.identity for p in d.people] == ["x", "y"]


@pytest.mark.parametrize("text,line,needle", [
    ("name,group\nAlice,t\n", 1, "no 'identity' column"),
    ("", 1, "empty directory"),
    ("identity,name\na,A\n,B\n", 3, "empty identity"),
    ("identity,name\na,A\nb,B\nA,again\n", 4, "repeated"),
    ("identity,aliases\na,x\nb,X\n", 3, "alias 'x' of 'b' is already an alias of 'a' (line 2)"),
    ("identity,aliases\na,\nb,a\n", 3, "alias 'a' of 'b' is the identity of 'a' (line 2)"),
    ("identity,aliases\na,x\nx,\n", 3, "identity 'x' is already an alias of 'a' (line 2)"),
    ("identity,group\na,\nb,teachers;comms\n", 3, "group 'teachers;comms': one group per person"),
    ("identity,site\nb,north;south\n", 2, "site 'north;south': one site per person"),
    ("identity,workdays\na,mon;funday\n", 2, "workdays"),
    ("identity,schedule\na,\nb,nosuch\n", 3, "nosuch"),
    ('identity,name\na,"unterminated\n', 2, "not CSV"),
])
def test_malformed_directory_is_a_config_error_naming_file_and_line(tmp_path, text, line, needle):
    path = tmp_path / "staff.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        parse_directory(path.read_bytes(), path, set())
    message = str(info.value)
    if needle != "not CSV":
        assert f"line {line}:" in message
    assert str(path) in message and needle in message


def test_missing_directory_file_names_it(tmp_path):
    cfg = org_cfg(tmp_path, '[directory]\npath = "nowhere.csv"\n')
    with pytest.raises(ConfigError) as info:
        load_directory(cfg)
    assert "nowhere.csv" in str(info.value) and "not found" in str(info.value)


def test_aliases_resolve_at_query_time_and_join_one_history(tmp_path):
    cfg = org_cfg(tmp_path, "", STAFF)
    rows = [
        evc("2026-01-05T09:00:00Z", "lte\\amorgan", FB),  # squid: DOMAIN\user (stored lower-cased)
        evc("2026-01-05T09:02:00Z", "amorgan@lte.sch.uk", FB),  # SurfProtect: UPN
        evc("2026-01-05T09:03:00Z", "amorgan", FB),
        evc("2026-01-05T09:10:00Z", "lte\\amorgan", "www.tiktok.com", "blocked"),
        evc("2026-01-05T09:10:30Z", "amorgan@lte.sch.uk", "www.tiktok.com", "blocked"),
    ]
    # one identity: 09:00 -> 09:02 -> 09:03 covered 120 + 60 s, then the 60 s tail = 4.00
    social = rows_of(social_report(events_con(rows), cfg, D, D))
    assert social == [("amorgan", D, 4.0, 4.0, 0.0, 0.0, 3, False)]
    # the two blocked requests 30 s apart are one attempt of one person
    blocked = rows_of(blocked_report(events_con(rows), cfg, D, D))
    assert blocked == [("amorgan", D, 2, 1, 1, "www.tiktok.com")]
    # editing the directory re-attributes history without re-ingesting
    (tmp_path / "staff.csv").write_text("identity\namorgan\nbokafor\n")
    cfg2 = org_cfg(tmp_path, "[directory]\npath = \"staff.csv\"\nscope = \"all\"\n")
    users = {r[0] for r in rows_of(social_report(events_con(rows), cfg2, D, D))}
    assert users == {"amorgan", "lte\\amorgan", "amorgan@lte.sch.uk"}


def test_scope_staff_hides_pupils_and_all_shows_them(tmp_path):
    rows = [evc("2026-01-05T09:00:00Z", u, FB) for u in ("amorgan", "pupil17", "10.0.0.99")]
    rows.append(evc("2026-01-05T09:00:00Z", "pupil17", "bad.example", "blocked"))
    staff = org_cfg(tmp_path, "", STAFF)
    assert staff.org.staff_only  # the default scope with a directory
    assert {r[0] for r in rows_of(social_report(events_con(rows), staff, D, D))} == {"amorgan"}
    assert rows_of(blocked_report(events_con(rows), staff, D, D)) == []
    everyone = org_cfg(tmp_path, '[directory]\npath = "staff.csv"\nscope = "all"\n')
    assert {r[0] for r in rows_of(social_report(events_con(rows), everyone, D, D))} == {
        "amorgan", "pupil17", "10.0.0.99"}


def test_without_a_directory_nothing_is_resolved_or_hidden(tmp_path):
    cfg = org_cfg(tmp_path, "")
    rows = [evc("2026-01-05T09:00:00Z", u, FB) for u in ("lte\\amorgan", "pupil17")]
    assert {r[0] for r in rows_of(social_report(events_con(rows), cfg, D, D))} == {"lte\\amorgan", "pupil17"}


def test_a_site_the_config_does_not_define_is_refused_when_sites_are_configured(tmp_path):
    """An MIS export's "Riverside School" would otherwise fall back to [schedule] silently."""
    path = tmp_path / "staff.csv"
    path.write_text("identity,site\na,riverside\nb,Riverside School\n")
    with pytest.raises(ConfigError) as info:
        parse_directory(path.read_bytes(), path, set(), {"northfield", "riverside"})
    assert str(info.value) == (f"{path}: line 3: site 'Riverside School' is not defined "
                               "(no [sites.riverside school]; defined: northfield, riverside)")
    assert [p.site for p in parse_directory(path.read_bytes(), path, set()).people] == ["riverside", "riverside school"]


ROWS = [["identity", "name", "aliases"], ["AMorgan", "Alice Morgan", "LTE\\AMorgan;amorgan@lte.sch.uk"],
        ["bokafor", "Ben Okafor", ""]]


def _people(raw: bytes) -> list[tuple]:
    return [(p.identity, p.name, p.aliases) for p in parse_directory(raw, None, set()).people]


EXPECTED = [("amorgan", "Alice Morgan", ("lte\\amorgan", "amorgan@lte.sch.uk")), ("bokafor", "Ben Okafor", ())]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig", "cp1252"])
def test_excel_unicode_text_and_other_encodings_read(encoding):
    """Excel's "Unicode Text" is UTF-16 LE with a BOM and tab-separated; BOM-less UTF-16
    is recognised by its NUL bytes; older exports are Windows-1252."""
    text = "\r\n".join("\t".join(r) for r in ROWS) + "\r\n"
    assert _people(text.encode(encoding)) == EXPECTED


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_the_delimiter_is_the_headers_and_excels_sep_line_is_obeyed(sep):
    quoted = [[f'"{c}"' if (";" in c and sep != ";") or sep in c else c for c in r] for r in ROWS]
    body = "".join(sep.join(r) + "\n" for r in quoted)
    assert _people(body.encode()) == EXPECTED
    assert _people(f"sep={sep}\n{body}".encode()) == EXPECTED


def test_a_line_number_after_a_sep_line_counts_the_sep_line(tmp_path):
    path = tmp_path / "staff.csv"
    path.write_text("sep=;\nidentity;name\na;A\n;B\n")
    with pytest.raises(ConfigError, match=r"line 4: empty identity"):
        parse_directory(path.read_bytes(), path, set())


def test_damaged_utf16_is_one_config_error_naming_the_file(tmp_path):
    path = tmp_path / "staff.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "identity\na\n".encode("utf-16-le") + b"\x00\xd8")  # lone surrogate
    with pytest.raises(ConfigError, match=r"staff\.csv: not a readable text file"):
        parse_directory(path.read_bytes(), path, set())


def test_a_header_only_directory_with_scope_staff_is_refused_by_reports_not_by_users(tmp_path):
    """Every report would be empty (exit 0) with nobody in scope: refused, naming the file;
    `users --unknown`, which lists whom the directory lacks, still runs."""
    from tests.conftest import SAMPLES, run_cli

    (tmp_path / "staff.csv").write_text("identity,name\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path / "store"}"\n[directory]\npath = "staff.csv"\nscope = "staff"\n')
    assert run_cli("--config", str(cfg), "ingest", str(SAMPLES / "access.log")).code in (0, 1)
    run = run_cli("--config", str(cfg), "report", "social", "--from", "2026-10-26", "--to", "2026-11-06")
    assert run.code == 2 and run.out == ""
    assert run.err.startswith("surfaudit: error: ") and "staff.csv: [directory].path: lists nobody" in run.err
    listing = run_cli("--config", str(cfg), "users", "--unknown", "--format", "csv")
    assert listing.code == 0 and listing.out.count("\n") > 5, listing.err
    cfg.write_text(cfg.read_text().replace('"staff"', '"all"'))
    assert run_cli("--config", str(cfg), "report", "social", "--from", "2026-10-26", "--to", "2026-11-06").code == 0


def test_a_nul_byte_in_a_utf8_file_is_no_utf16():
    with pytest.raises(ConfigError, match=r"^directory: line 2: a NUL byte"):
        _people(b"identity,name\nj.smith,Jo\x00\n")


@pytest.mark.parametrize("header,sep", [
    ('identity,"Aliases (a;b;c)"', ","), ('identity\t"Name, full"', "\t"), ('identity;"Surname, first"', ";"),
    ('identity|"User;Name, Full"', "|"),
])
def test_a_delimiter_inside_a_quoted_heading_is_not_the_delimiter(header, sep):
    d = parse_directory(f"{header}\namorgan{sep}x\n".encode(), None, set())
    assert [p.identity for p in d.people] == ["amorgan"]


def test_header_errors_after_a_sep_line_name_the_header_line(tmp_path):
    path = tmp_path / "staff.csv"
    path.write_text("sep=;\nname;group\n")
    with pytest.raises(ConfigError, match=r"staff\.csv: line 2: no 'identity' column"):
        parse_directory(path.read_bytes(), path, set())


@pytest.mark.parametrize("rows,needle", [
    ("amorgan,Alice Morgan,staff\nbokafor;Ben Okafor;staff\n",
     "line 3: 1 column, the header has 3: the row is separated by ';', the header by ','"),
    ("amorgan,Alice Morgan,staff\nbokafor,Okafor, Ben,staff\n",
     "line 3: 4 columns, the header has 3 (a value with the delimiter in it needs quotes)"),
])
def test_a_row_split_differently_from_its_header_is_refused_naming_the_line(tmp_path, rows, needle):
    """Ben would have dropped out of scope (identity 'bokafor;ben okafor;staff') or been
    given the group ' Ben'."""
    path = tmp_path / "staff.csv"
    path.write_text("identity,name,group\n" + rows)
    with pytest.raises(ConfigError) as info:
        parse_directory(path.read_bytes(), path, set())
    assert str(info.value) == f"{path}: {needle}"


def test_excel_left_out_trailing_empty_cells_and_extra_empty_cells_are_fine():
    d = parse_directory(b"identity,name,group,site\namorgan,Alice\nbokafor,Ben,staff,,,\n", None, set())
    assert [(p.identity, p.name, p.group) for p in d.people] == [("amorgan", "Alice", None), ("bokafor", "Ben", "staff")]


@pytest.mark.parametrize("first", ["SEP=;", "Sep=;", "sep=;;;;", "sep= ;", '"sep=;"', "sep=;\r"])
def test_excel_sep_line_variants_are_recognised(first):
    assert _people(f"{first}\nidentity;name;aliases\nAMorgan;Alice Morgan;\"LTE\\AMorgan;amorgan@lte.sch.uk\"\n"
                   f"bokafor;Ben Okafor;\n".encode()) == EXPECTED


@pytest.mark.parametrize("magic", [b"PK\x03\x04\x14\x00\x06\x00", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"])
def test_a_workbook_saved_under_a_csv_name_is_named_for_what_it_is(tmp_path, magic):
    path = tmp_path / "staff.csv"
    path.write_bytes(magic + bytes(range(256)) * 4)
    with pytest.raises(ConfigError) as info:
        parse_directory(path.read_bytes(), path, set())
    assert str(info.value) == (f"{path}: is a spreadsheet workbook, not CSV: open it in the spreadsheet and "
                               "save it as 'CSV UTF-8'")


def test_a_nul_byte_anywhere_is_refused_naming_its_line(tmp_path):
    path = tmp_path / "staff.csv"
    path.write_bytes(b"identity,name\n" + b"a,A\n" * 100 + b"j.smith,Jo\x00\n")
    with pytest.raises(ConfigError, match=r"staff\.csv: line 102: a NUL byte"):
        parse_directory(path.read_bytes(), path, set())


def test_the_same_heading_twice_is_refused_and_of_two_of_one_meaning_the_specific_is_taken(tmp_path):
    """Active Directory's export has Name (the account's CN) and DisplayName: the display
    name is the person's; Identity beats User; the same heading twice cannot be told."""
    d = parse_directory(b"User,Name,DisplayName,Identity\nu1,CN1,Alice Morgan,amorgan\n", None, set())
    assert [(p.identity, p.name) for p in d.people] == [("amorgan", "Alice Morgan")]
    path = tmp_path / "staff.csv"
    path.write_text("identity,Name,name\na,A,B\n")
    with pytest.raises(ConfigError) as info:
        parse_directory(path.read_bytes(), path, set())
    assert str(info.value) == f"{path}: line 1: columns 2 and 3 are both headed 'name': rename or delete one"


def test_powershell_type_line_and_comments_before_the_header_are_skipped(tmp_path):
    """Windows PowerShell 5.1's Export-Csv writes '#TYPE Selected.Microsoft...' first."""
    path = tmp_path / "staff.csv"
    path.write_text('#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\n"SamAccountName","DisplayName",'
                    '"Identity"\n"amorgan","Alice Morgan","amorgan"\n"x","Y",""\n')
    with pytest.raises(ConfigError, match=r"staff\.csv: line 4: empty identity"):  # lines count the #TYPE line
        parse_directory(path.read_bytes(), path, set())
    d = parse_directory(b"sep=;\n# from the MIS\nidentity;name\na;A\n", None, set())
    assert [(p.identity, p.name) for p in d.people] == [("a", "A")]


def test_a_person_whose_first_cell_starts_with_a_hash_is_no_comment():
    d = parse_directory(b"name,identity\n#1 Coach,jsmith\n# a note\n,#old\n", None, set())
    assert [(p.identity, p.name) for p in d.people] == [("jsmith", "#1 Coach")]


def test_comment_lines_are_skipped_and_line_breaks_in_a_cell_are_spaces():
    d = parse_directory(b'identity,name\n# exported 2026-09-01 by the MIS\n  #old,x\na,"Alice\r\nMorgan"\n'
                        b'b,"Ben\rOkafor"\n', None, set())
    assert [(p.identity, p.name) for p in d.people] == [("a", "Alice Morgan"), ("b", "Ben Okafor")]


def test_the_schedule_column_ignores_case_like_site_and_group():
    d = parse_directory(b"identity,schedule\na,Riverside\nb,RIVERSIDE\nc,riverside\n", None, {"riverside"})
    assert [p.schedule for p in d.people] == ["riverside"] * 3


@pytest.mark.parametrize("header,row", [("identity,name,group", "bokafor;Okafor, Ben;support"),
                                        ("identity;name;group", "bokafor,Ben;Okafor,support")])
def test_an_identity_holding_another_delimiter_is_refused(tmp_path, header, row):
    """Two cells or more, so the width check passed: 'bokafor;okafor' joined the directory
    and the real bokafor fell out of scope."""
    path = tmp_path / "staff.csv"
    path.write_text(f"{header}\ndpatel{header[8]}Dev{header[8]}x\n{row}\n")
    with pytest.raises(ConfigError, match=r"staff\.csv: line 3: identity 'bokafor.* holds '[;,]'"):
        parse_directory(path.read_bytes(), path, set())


def test_a_hash_note_with_the_delimiter_is_a_comment_and_joined_exports_skip_their_headers():
    d = parse_directory(b"name,identity,group\n# updated by IT, bokafor\nDev,dpatel,x\nname,identity,group\n"
                        b"sep=,\nBen,bokafor,y\n", None, set())
    assert [(p.identity, p.name) for p in d.people] == [("dpatel", "Dev"), ("bokafor", "Ben")]


def test_blank_lines_before_the_header_and_cr_line_ends_are_read():
    """Each said "line 1: no 'identity' column in the header"."""
    for raw in (b"\r\n\nidentity,name\r\na,A\r\n", b"#TYPE x\ridentity,name\ra,A\r"):
        assert [(p.identity, p.name) for p in parse_directory(raw, None, set()).people] == [("a", "A")]
