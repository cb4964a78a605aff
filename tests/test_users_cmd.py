"""Finding people and naming them through the real CLI:
`--user` by alias, any case or directory name; an unknown `--user` (exit 2 with close
matches on stderr); scope "staff" hiding a pupil whom `users --unknown` lists; and the
audit entries of reports and listings that name people.

Data (squid, Monday 2026-01-05, GMT so local = UTC): amorgan logs in as `LTE\\AMorgan`
at 09:00 and as `amorgan` at 09:02, both on Facebook (120 s + 60 s tail = 3.00
minutes outside break); pupil17 and an anonymous client use Facebook at 09:00.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import run_cli, squid_line, utc

RANGE = ("--from", "2026-01-05", "--to", "2026-01-05")
STAFF = ("identity,name,group,site,aliases\n"
         "amorgan,Alice Morgan,teachers,north,LTE\\AMorgan;amorgan@lte.sch.uk\n"
         "bokafor,Ben Okafor,comms,south,\n")
SOCIAL_ROW = "amorgan,2026-01-05,3.0,3.0,0.0,0.0,2,false"


def make(tmp_path, extra: str = "") -> tuple:
    (tmp_path / "staff.csv").write_text(STAFF)
    cfg = tmp_path / "surfaudit.toml"
    cfg.write_text(f'[store]\npath = "store"\n[retention]\nmonths = 1200\n[directory]\npath = "staff.csv"\n'
                   f'[sites.north]\nclients = ["10.1.0.0/16"]\n[sites.south]\n{extra}')
    log = tmp_path / "access.log"
    log.write_text("\n".join([
        squid_line(utc(2026, 1, 5, 9, 0), "LTE\\\\AMorgan", "www.facebook.com", ip="10.1.0.5"),  # squid escapes \\
        squid_line(utc(2026, 1, 5, 9, 2), "amorgan", "www.facebook.com", ip="10.1.0.5"),
        squid_line(utc(2026, 1, 5, 9, 0), "pupil17", "www.facebook.com", ip="10.1.7.7"),
        squid_line(utc(2026, 1, 5, 9, 0), "-", "www.facebook.com", ip="10.2.0.9"),
    ]) + "\n")

    def cli(*args):
        return run_cli("--config", str(cfg), *args, env={"SURFAUDIT_NOW": "2026-01-20T12:00:00Z"})

    ingested = cli("ingest", str(log))
    assert ingested.code == 0, ingested.err
    return cli, cfg


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return make(tmp_path_factory.mktemp("users"))


def audit_entries(cli) -> list[dict]:
    run = cli("audit", "--format", "json")
    assert run.code == 0, run.err
    return json.loads(run.out)


def test_alias_mixed_case_and_directory_name_give_the_same_rows(env):
    cli, _ = env
    runs = [cli("report", "social", *RANGE, "--format", "csv", "--user", u)
            for u in ("amorgan", "AMorgan", "LTE\\amorgan", "lte\\AMORGAN", "AMorgan@LTE.sch.uk", "alice  morgan")]
    for run in runs:
        assert run.code == 0 and "error" not in run.err, run.err
        assert all(line.startswith("surfaudit: note: ") for line in run.err.splitlines())
        assert run.out == runs[0].out
    assert runs[0].out.splitlines()[1:] == [SOCIAL_ROW]


def test_the_csv_reports_notes_on_stderr_state_the_default_timetable_themselves(env):
    """In table mode [schedule]'s hours are printed above the notes; with CSV only the
    notes reach the reader (stderr): they must not point at "hours stated above"."""
    cli, _ = env
    run = cli("report", "social", *RANGE, "--format", "csv")
    assert run.code == 0
    notes = run.err.splitlines()
    assert "surfaudit: note: Timetables: per person (directory row > group > site > [schedule]); [calendar] " \
           "closed days and england-and-wales bank holidays are non-workdays." in notes
    assert "surfaudit: note: Schedule [schedule]: work hours 08:00-17:00 on mon, tue, wed, thu, fri; breaks " \
           "10:30-10:50, 12:00-13:00." in notes
    assert not any("above" in line for line in notes)


def test_unknown_user_exits_2_with_close_matches_on_stderr(env):
    cli, _ = env
    run = cli("report", "social", *RANGE, "--user", "amorgn")
    assert run.code == 2 and run.out == ""
    assert run.err.count("\n") == 1 and run.err.startswith("surfaudit: error: --user: no such identity")
    assert "did you mean: amorgan" in run.err
    run = cli("report", "blocked", *RANGE, "--user", "Alice Morgen")
    assert run.code == 2 and "Alice Morgan" in run.err and run.out == ""
    run = cli("export", "--user", "bokafur", "--reason", "test", "--output", "/tmp/never.csv", *RANGE)
    assert run.code == 2 and "bokafor" in run.err


def test_scope_staff_hides_a_pupil_whom_users_unknown_lists(env):
    cli, _ = env
    report = cli("report", "social", *RANGE, "--format", "csv")
    assert report.code == 0
    assert report.out.splitlines()[1:] == [SOCIAL_ROW]  # no pupil17, no anonymous client
    assert "Scope: staff directory members only" in report.err  # stated, on stderr beside the CSV
    unknown = cli("users", "--unknown", "--format", "csv")
    assert unknown.code == 0, unknown.err
    rows = list(csv.DictReader(io.StringIO(unknown.out)))
    assert {r["identity"] for r in rows} == {"pupil17", "10.2.0.9"}
    by_id = {r["identity"]: r for r in rows}
    assert by_id["pupil17"]["site"] == "north" and by_id["10.2.0.9"]["site"] == ""  # south has no clients
    assert by_id["pupil17"]["requests"] == "1" and by_id["pupil17"]["in_directory"] == "false"
    everyone = list(csv.DictReader(io.StringIO(cli("users", "--format", "csv").out)))
    a = next(r for r in everyone if r["identity"] == "amorgan")
    assert (a["name"], a["group"], a["site"], a["requests"]) == ("Alice Morgan", "teachers", "north", "2")
    assert a["first_seen"] == "2026-01-05 09:00" and a["last_seen"] == "2026-01-05 09:02"
    b = next(r for r in everyone if r["identity"] == "bokafor")
    assert b["requests"] == "0" and b["first_seen"] == ""  # in the directory, never seen
    north = list(csv.DictReader(io.StringIO(cli("users", "--site", "north", "--format", "csv").out)))
    assert {r["identity"] for r in north} == {"amorgan", "pupil17"}
    comms = list(csv.DictReader(io.StringIO(cli("users", "--group", "comms", "--format", "csv").out)))
    assert [r["identity"] for r in comms] == ["bokafor"]
    outside = cli("report", "social", *RANGE, "--user", "pupil17")
    assert outside.code == 2 and "users --unknown" in outside.err
    bad = cli("users", "--site", "nowhere")
    assert bad.code == 2 and "--site" in bad.err


def test_reports_and_listings_that_name_people_are_audited(tmp_path):
    cli, _ = make(tmp_path)
    before = len(audit_entries(cli))
    assert cli("report", "social", *RANGE, "--format", "csv", "--site", "north").code == 0
    assert cli("users", "--format", "csv").code == 0
    assert cli("report", "social", *RANGE, "--format", "csv", "--pseudonymise").code == 0  # names nobody
    new = audit_entries(cli)[before:]
    assert [e["command"] for e in new] == ["report social", "users"]
    social, users = new
    assert social["detail"] == "named 1 people; filters site=north" and social["rows"] == 1
    assert (social["date_from"], social["date_to"]) == ("2026-01-05", "2026-01-05")
    assert users["detail"] == "named 4 people" and social["os_user"]


def test_a_report_kept_to_one_proxy_site_records_that_filter(tmp_path):
    cli, _ = make(tmp_path, '[ingest]\nsite = "north-proxy"\n')
    assert cli("report", "social", *RANGE, "--format", "csv", "--proxy-site", "north-proxy", "--site", "north").code == 0
    entry = audit_entries(cli)[-1]
    assert (entry["command"], entry["rows"]) == ("report social", 1)
    assert entry["detail"] == "named 1 people; filters site=north, proxy-site=north-proxy"


def test_privacy_pseudonymises_unless_reveal_with_reason(tmp_path):
    cli, cfg = make(tmp_path, "[privacy]\nreports_name_people = false\n")
    before = len(audit_entries(cli))
    hidden = cli("report", "social", *RANGE, "--format", "csv")
    assert hidden.code == 0 and "amorgan" not in hidden.out
    pseudonym = hidden.out.splitlines()[1].split(",")[0]
    assert pseudonym.startswith("staff-")
    # the pseudonym a report printed is accepted back by --user (and stays pseudonymised)
    again = cli("report", "social", *RANGE, "--format", "csv", "--user", pseudonym)
    assert again.code == 0 and again.out == hidden.out
    listing = cli("users", "--format", "csv")
    assert listing.code == 0 and "amorgan" not in listing.out and "Alice" not in listing.out
    assert audit_entries(cli)[before:] == []  # nobody was named
    no_reason = cli("report", "social", *RANGE, "--reveal")
    assert no_reason.code == 2 and "--reason" in no_reason.err
    shown = cli("report", "social", *RANGE, "--format", "csv", "--reveal", "--reason", "HR case 12")
    assert shown.code == 0 and shown.out.splitlines()[1:] == [SOCIAL_ROW]
    entry = audit_entries(cli)[-1]
    assert (entry["command"], entry["reason"], entry["detail"]) == ("report social", "HR case 12", "named 1 people")


@pytest.mark.parametrize("report", [("social",), ("blocked",), ("top", "--by", "host")])
def test_a_named_user_is_refused_while_reports_are_pseudonymised(tmp_path, report):
    """Under reports_name_people = false, `--user "Alice Morgan"` would show her rows and
    tie her to her pseudonym with no reason and no audit entry: refused (exit 2) unless
    given her pseudonym, or --reveal --reason, which is recorded."""
    cli, _ = make(tmp_path, "[privacy]\nreports_name_people = false\n")
    before = len(audit_entries(cli))
    for who in ("Alice Morgan", "amorgan", "LTE\\amorgan"):
        run = cli("report", *report, *RANGE, "--format", "csv", "--user", who)
        assert (run.code, run.out) == (2, ""), run.err
        assert run.err == ("surfaudit: error: --user names a person while reports are pseudonymised ([privacy] "
                           "reports_name_people = false): give their pseudonym (staff-...), or --reveal --reason "
                           "TEXT (recorded)\n")
    assert audit_entries(cli)[before:] == []
    shown = cli("report", *report, *RANGE, "--format", "csv", "--user", "Alice Morgan", "--reveal", "--reason", "HR 7")
    assert shown.code == 0, shown.err
    entry = audit_entries(cli)[-1]
    assert (entry["target"], entry["reason"]) == ("amorgan", "HR 7")


def test_work_hosts_exemption_is_stated_and_policy_comes_from_config(tmp_path):
    clauses = tmp_path / "clauses.txt"
    clauses.write_text("Personal use at work\nStaff may use social media in their breaks only.\n"
                       "The report separates break time from lesson time.\n\n"
                       "Official accounts\nThe communications team runs the trust's pages.\n")
    cli, _ = make(tmp_path, '[groups.teachers]\nwork_hosts = ["facebook.com"]\n'
                            f'[policy]\nname = "Northfield Trust staff IT policy"\ndate = "March 2026"\n'
                            f'clauses = "{clauses}"\n')
    run = cli("report", "social", *RANGE, "--format", "csv")
    assert run.code == 0 and run.out.splitlines()[1:] == []  # amorgan's Facebook is work for teachers
    assert "Work use exempted: for group teachers, facebook.com" in run.err
    table = cli("report", "social", *RANGE)
    assert "Work use exempted" in table.out
    out = tmp_path / "amorgan.html"
    export = cli("export", "--user", "AMorgan", "--reason", "test of the exemption", *RANGE, "--output", str(out))
    assert export.code == 0, export.err
    page = out.read_text()
    assert "Work use exempted" in page and "facebook.com" in page
    assert "Northfield Trust staff IT policy (March 2026)" in page
    assert "Staff may use social media in their breaks only." in page and "Official accounts" in page
    assert "Learning Trust for Excellence" not in page  # not the shipped policy
    entry = audit_entries(cli)[-1]
    assert (entry["command"], entry["target"]) == ("export", "amorgan")  # the alias resolved


def test_sample_trust_config_names_people_and_applies_two_sites(tmp_path):
    """The README's trust commands on the shipped samples (sample_logs/trust/)."""
    from tests.conftest import ROOT, SAMPLES

    trust = ROOT / "sample_logs" / "trust" / "surfaudit.toml"
    store = tmp_path / "store"
    assert run_cli("--config", str(trust), "--store", str(store), "ingest", str(SAMPLES)).code == 1  # bad lines on purpose

    def csv_rows(*args):
        run = run_cli("--config", str(trust), "--store", str(store), *args, "--format", "csv")
        assert run.code == 0, run.err
        return list(csv.DictReader(io.StringIO(run.out)))

    named = csv_rows("report", "social", "--from", "2026-10-26", "--to", "2026-11-06", "--user", "Alice Morgan")
    assert {r["user"] for r in named} == {"amorgan"} and len(named) == 10
    inset = next(r for r in named if r["date"] == "2026-11-02")  # the INSET day: all outside hours
    assert inset["outside_hours_minutes"] == inset["social_minutes"] and inset["outside_break_minutes"] == "0.0"
    unknown = {r["identity"] for r in csv_rows("users", "--unknown")}
    assert unknown == {"10.20.1.11", "10.20.1.12", "10.20.1.57", "10.30.0.40"}
    dpatel = csv_rows("report", "social", "--from", "2026-10-26", "--to", "2026-11-06", "--user", "LTE\\DPatel")
    # dpatel's evening X use is comms work: outside hours only on the INSET day (his lunch-time use)
    assert dpatel and all(r["outside_hours_minutes"] == "0.0" for r in dpatel if r["date"] != "2026-11-02")
    # c.nguyen's 19.50 minutes of lunch-time YouTube on Mon 26 Oct: in the 12:00-13:00 break of
    # [schedule] (tests/golden/report_social.csv), outside break at Riverside (lunch 12:30-13:30)
    cn = csv_rows("report", "social", "--from", "2026-10-26", "--to", "2026-10-26", "--user", "c.nguyen")
    assert [(r["social_minutes"], r["outside_break_minutes"], r["in_break_minutes"]) for r in cn] == [
        ("19.5", "19.5", "0.0")]


def test_export_labels_every_row_with_the_persons_own_timetable(tmp_path):
    # teachers work 10:00-20:00 here: amorgan's 09:00-09:03 Facebook and a 09:30 BBC
    # request are outside hours for her (under [schedule] they would be outside break)
    cli, _ = make(tmp_path, '[schedules.late]\nwork_hours = "10:00-20:00"\nbreaks = []\n'
                            '[groups.teachers]\nschedule = "late"\n')
    extra = tmp_path / "more.log"
    extra.write_text(squid_line(utc(2026, 1, 5, 9, 30), "amorgan", "www.bbc.co.uk", ip="10.1.0.5") + "\n")
    assert cli("ingest", str(extra)).code == 0
    report = cli("report", "social", *RANGE, "--format", "csv", "--user", "amorgan")
    assert report.out.splitlines()[1:] == ["amorgan,2026-01-05,3.0,0.0,0.0,3.0,2,false"]
    out = tmp_path / "amorgan.csv"
    run = cli("export", "--user", "amorgan", "--reason", "timetable check", *RANGE, "--output", str(out))
    assert run.code == 0, run.err
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [(r["host"], r["social"], r["period"], r["covered_seconds"]) for r in rows] == [
        ("www.facebook.com", "true", "outside_hours", "120.000"),
        ("www.facebook.com", "true", "outside_hours", "60.000"),
        ("www.bbc.co.uk", "false", "outside_hours", "0.000"),
    ]


def test_suggestions_never_show_whom_the_asker_may_not_see(env, tmp_path):
    """Scope staff: a pupil is not offered as a close match; pseudonymised reports: no names at all."""
    cli, _ = env
    run = cli("report", "social", *RANGE, "--user", "pupil1")
    assert run.code == 2 and "pupil17" not in run.err
    hidden, _ = make(tmp_path, "[privacy]\nreports_name_people = false\n")
    run = hidden("report", "social", *RANGE, "--user", "amorgn")
    assert run.code == 2 and "amorgan" not in run.err and "Morgan" not in run.err
    assert "did you mean" not in run.err


def test_an_audited_report_runs_while_a_nightly_holds_the_store_lock(env):
    """Naming people is recorded under the audit log's own lock, not the store lock a
    nightly ingest may hold for hours: the report runs at once, and is audited."""
    import time

    from surfaudit.store import Store

    cli, cfg = env
    store = Store(cfg.parent / "store")
    before = len(audit_entries(cli))
    with store.lock():  # as a nightly run would
        t = time.monotonic()
        run = cli("report", "social", *RANGE, "--format", "csv")
        took = time.monotonic() - t
    assert run.code == 0, run.err
    assert took < 8  # the store lock would have made it wait 10 s and exit 3
    assert len(audit_entries(cli)) == before + 1  # the report naming people was recorded


def test_one_persons_top_hosts_are_recorded_as_naming_them(env):
    """`report top --by host --user X` has no user column, but it is X's browsing: with a
    directory it is audited like the other reports that name people."""
    cli, _ = env
    before = len(audit_entries(cli))
    run = cli("report", "top", "--by", "host", *RANGE, "--format", "csv", "--user", "Alice Morgan")
    assert run.code == 0 and "www.facebook.com" in run.out, run.err
    entries = audit_entries(cli)[before:]
    assert [(e["command"], e["target"], e["detail"]) for e in entries] == [
        ("report top", "amorgan", "named 1 people; filters user=Alice Morgan")]


def test_a_large_directory_lists_as_aligned_text_quickly(tmp_path):
    """Past render.LARGE_TABLE rows `users` prints the same cells as plain aligned text
    (rich measured every cell: 100,000 people took 46 s); names are never markup and
    control characters are shown escaped, as in the small table."""
    from surfaudit.render import LARGE_TABLE

    cli, _ = make(tmp_path)
    n = LARGE_TABLE + 10
    people = "".join(f"u{i:05d},Person {i},teachers,north,\n" for i in range(n))
    evil = '"[bold red]x[/] \x1b[2Jy\u202ead\u200bmin",teachers,south,\n'
    (tmp_path / "staff.csv").write_text(STAFF + people + "zz," + evil)
    run = cli("users")
    assert run.code == 0 and run.err == ""
    lines = run.out.splitlines()
    assert lines[0] == "Identities (aliases resolved)" and lines[-1] == f"{n + 5} identities."
    head, rule, rows = lines[1], lines[2], lines[3:-1]
    assert head.split() == ["identity", "name", "group", "site", "first", "seen", "last", "seen", "requests",
                            "in", "directory"]
    assert set(rule) <= {"\u2500", " "} and len(rows) == n + 5
    # columns line up: every row's site starts where the heading's does
    at = head.index("site")
    alice = next(r for r in rows if r.startswith("amorgan "))
    assert alice[at:at + 5] == "north" and alice.split()[-2:] == ["2", "yes"]  # requests right-aligned
    last = next(r for r in rows if r.startswith("zz "))
    assert "[bold red]x[/]" in last and "\x1b" not in last and "\u202e" not in last
    assert "\\x1b" in last or "\\u001b" in last
    assert "ad\\u200bmin" in last  # a zero-width space shown, not hidden
