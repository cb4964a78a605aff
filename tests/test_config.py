"""Configuration (DESIGN §5): discovery order, validation naming the key, `init`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from surfaudit.config import DEFAULT_TOML, Config, Window, load_config, parse_config
from surfaudit.errors import ConfigError


def test_init_template_has_every_key_and_equals_the_defaults():
    data = tomllib.loads(DEFAULT_TOML)
    assert set(data) == {"store", "schedule", "social", "blocked", "retention", "ingest", "engine", "formats",
                         "directory", "calendar", "privacy", "policy"}
    assert data["engine"] == {"kind": "duckdb", "master": "local[*]", "memory_limit": "600MB"}
    assert set(data["directory"]) == {"path", "scope"} and set(data["calendar"]) == {"closed", "bank_holidays"}
    assert set(data["privacy"]) == {"reports_name_people"} and set(data["policy"]) == {"name", "date", "clauses"}
    for commented in ("# [schedules.", "# [groups.", "# work_hosts = ", "# [sites.", "# clients = "):
        assert commented in DEFAULT_TOML
    assert set(data["ingest"]) == {"settle_seconds", "max_line_bytes", "recursive", "site"}
    assert set(data["schedule"]) == {"timezone", "workdays", "work_hours", "breaks"}
    assert set(data["social"]) == {"domains", "ignore_hosts", "idle_gap_seconds", "tail_seconds", "flag_minutes"}
    cfg = parse_config(data)
    default = Config()
    assert (cfg.schedule, cfg.social, cfg.blocked, cfg.retention) == (default.schedule, default.social, default.blocked, default.retention)
    assert (cfg.ingest, cfg.formats, cfg.engine) == (default.ingest, default.formats, default.engine)
    assert cfg.org == default.org
    assert cfg.schedule.breaks == (Window(630, 650), Window(720, 780))


@pytest.mark.parametrize("toml,key", [
    ('[social]\nidle_gap = 3\n', "[social].idle_gap"),
    ('[nonsense]\na = 1\n', "[nonsense]"),
    ('[schedule]\nwork_hours = "8-17"\n', "[schedule].work_hours"),
    ('[schedule]\nwork_hours = "17:00-08:00"\n', "[schedule].work_hours"),
    ('[schedule]\nbreaks = ["12:00-13:00", "25:00-26:00"]\n', "[schedule].breaks[1]"),
    ('[schedule]\ntimezone = "Europe/Londres"\n', "[schedule].timezone"),
    ('[schedule]\ntimezone = "localtime"\n', "[schedule].timezone: 'localtime' is a file of the system's time zone"),
    ('[schedule]\ntimezone = "posix/Europe/London"\n', "[schedule].timezone: 'posix/Europe/London' is a file"),
    ('[schedule]\ntimezone = "right/Europe/London"\n', "[schedule].timezone: 'right/Europe/London' is a file"),
    ('[schedule]\ntimezone = "posixrules"\n', "[schedule].timezone"),
    ('[social]\nflag_minutes = nan\n', "[social].flag_minutes: must be a number, got nan"),
    ('[social]\nflag_minutes = inf\n', "[social].flag_minutes: must be at most 1440, got inf"),
    ('[schedule]\nworkdays = ["mon", "funday"]\n', "[schedule].workdays"),
    ('[schedule]\nworkdays = ["monkey"]\n', "[schedule].workdays"),
    ('[schedule]\nworkdays = ["tues"]\n', "[schedule].workdays"),
    ('[social]\ndomains = ["https://www.youtube.com/"]\n', "[social].domains"),
    ('[social]\ndomains = ["*.linkedin.com"]\n', "[social].domains"),
    ('[social]\ndomains = ["facebook.com/groups"]\n', "[social].domains"),
    ('[social]\nignore_hosts = ["*.fbcdn.net"]\n', "[social].ignore_hosts"),
    ('[retention]\nmonths = 0\n', "[retention].months"),
    ('[retention]\nmonths = 30000\n', "[retention].months: must be at most 12000, got 30000"),
    ('[retention]\nmonths = 99999999999\n', "[retention].months: must be at most 12000"),
    ('[social]\nidle_gap_seconds = 1000000000000000\n', "[social].idle_gap_seconds: must be at most 86400"),
    ('[social]\ntail_seconds = 86401\n', "[social].tail_seconds: must be at most 86400"),
    ('[social]\nflag_minutes = 1441\n', "[social].flag_minutes: must be at most 1440"),
    ('[blocked]\nburst_seconds = 9223372036854775807\n', "[blocked].burst_seconds: must be at most 86400"),
    ('[social]\ntail_seconds = "60"\n', "[social].tail_seconds"),
    ('[social]\nflag_minutes = true\n', "[social].flag_minutes"),
    ('[ingest]\nmax_line_bytes = 10\n', "[ingest].max_line_bytes"),
    ('[ingest]\nrecursive = "yes"\n', "[ingest].recursive"),
    ('[ingest]\nsettle = 3\n', "[ingest].settle"),
    ('[formats.squid]\nformat = "x"\n', "[formats.squid].format"),
    ('[formats.vendor]\ntime = "T"\nurl = "U"\n', "[formats.vendor].decision"),
    ('[formats.vendor]\ntime = "T"\nurl = "U"\ndecision = "D"\nencoding = "latin-9"\n', "[formats.vendor].encoding"),
    ('[formats.vendor]\ntime = "T"\nurl = "U"\ndecision = "D"\ndelimiter = ";;"\n', "[formats.vendor].delimiter"),
    ('[formats.vendor]\ntime = "T"\nurl = "U"\ndecision = "D"\nallowed = ["x"]\nblocked = ["X"]\n', "[formats.vendor]"),
    ('[formats."Bad Name"]\ntime = "T"\n', "[formats.Bad Name]"),
    ('[formats.vendor]\ntime = "T"\nurl = "U"\ndecision = "D"\n', "[formats.vendor]: name the user column"),
    ('[formats.vendor]\ntime = "T"\nurl = "U"\ndecision = "D"\nuser = "u"\nclient_ip = "U"\n', "[formats.vendor].client_ip"),
    ('[formats.fortigate]\ntime = "T"\n', "[formats.fortigate]"),
])
def test_bad_values_name_the_key(toml, key):
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(toml))
    assert key in str(info.value)
    assert "\n" not in str(info.value)


def test_domains_are_normalised():
    cfg = parse_config(tomllib.loads('[social]\ndomains = ["FaceBook.COM.", " x.com "]\nignore_hosts = ["Static.XX.FBCDN.net."]\n'))
    assert cfg.social.domains == ("facebook.com", "x.com")
    assert cfg.social.ignore_hosts == ("static.xx.fbcdn.net",)


def test_discovery_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SURFAUDIT_CONFIG", raising=False)
    (tmp_path / "surfaudit.toml").write_text("[retention]\nmonths = 7\n")
    env_file = tmp_path / "env.toml"
    env_file.write_text("[retention]\nmonths = 8\n")
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[retention]\nmonths = 9\n")
    assert load_config().retention.months == 7
    monkeypatch.setenv("SURFAUDIT_CONFIG", str(env_file))
    assert load_config().retention.months == 8
    assert load_config(explicit).retention.months == 9
    monkeypatch.setenv("SURFAUDIT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="missing.toml"):
        load_config()


def test_store_override_and_relative_store_path(tmp_path):
    cfg_file = tmp_path / "conf" / "surfaudit.toml"
    cfg_file.parent.mkdir()
    cfg_file.write_text('[store]\npath = "data"\n')
    assert load_config(cfg_file).store_path == tmp_path / "conf" / "data"
    assert load_config(cfg_file, store=tmp_path / "elsewhere").store_path == tmp_path / "elsewhere"


def test_builtin_defaults_when_nothing_is_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SURFAUDIT_CONFIG", raising=False)
    monkeypatch.setattr("surfaudit.config.SYSTEM_CONFIG", tmp_path / "none.toml")
    cfg = load_config()
    assert cfg.source is None and cfg.store_path == Path("surfaudit-data")


def test_day_names_and_hosts_that_used_to_pass_silently():
    """`monkey` is not Monday; a URL or a wildcard domain says what to write instead."""
    cfg = parse_config(tomllib.loads('[schedule]\nworkdays = ["Monday", "TUE", " wed ", "thursday"]\n'))
    assert cfg.schedule.workdays == (0, 1, 2, 3)
    with pytest.raises(ConfigError, match='write "www.youtube.com"'):
        parse_config(tomllib.loads('[social]\ndomains = ["https://www.youtube.com/"]\n'))
    with pytest.raises(ConfigError, match='write "linkedin.com"'):
        parse_config(tomllib.loads('[social]\ndomains = ["*.linkedin.com"]\n'))
    cfg = parse_config(tomllib.loads('[social]\ndomains = ["x.com", "10.1.2.3", "2001:db8::1"]\n'))
    assert cfg.social.domains == ("x.com", "10.1.2.3", "2001:db8::1")


# -- the organisation: [directory], [schedules.*], [groups.*], [sites.*], [calendar], [privacy], [policy]

def test_organisation_keys_parse(tmp_path):
    from datetime import date

    clauses = tmp_path / "clauses.txt"
    clauses.write_text("Heading\nQuote\nRelation\n")
    cfg = parse_config(tomllib.loads(f'''
[schedule]
breaks = ["10:30-10:50", "12:00-13:00"]
[directory]
path = "staff.csv"
scope = "all"
[schedules.primary]
breaks = ["12:10-12:40"]
[schedules.parttime]
workdays = ["mon", "tuesday"]
[groups.Comms]
schedule = "primary"
work_hosts = ["Facebook.com.", "x.com"]
[sites.north]
schedule = "primary"
clients = ["10.1.0.0/16", "10.2.3.4"]
[calendar]
closed = ["2026-10-26..2026-10-30", "2026-12-01"]
bank_holidays = "scotland"
[privacy]
reports_name_people = false
[policy]
name = "Our policy"
date = "2025-09-01"
clauses = "{clauses}"
'''), source=tmp_path / "surfaudit.toml")
    org = cfg.org
    assert org.directory_path == tmp_path / "staff.csv" and org.scope == "all" and not org.staff_only
    assert org.schedules["primary"].breaks == (Window(730, 760),)
    assert org.schedules["primary"].work_hours == cfg.schedule.work_hours  # unset keys from [schedule]
    assert org.schedules["parttime"].workdays == (0, 1) and org.schedules["parttime"].breaks == cfg.schedule.breaks
    assert org.groups["comms"].work_hosts == ("facebook.com", "x.com") and org.groups["comms"].schedule == "primary"
    assert org.sites["north"].clients == ("10.1.0.0/16", "10.2.3.4/32")
    assert org.closed == ((date(2026, 10, 26), date(2026, 10, 30)), (date(2026, 12, 1), date(2026, 12, 1)))
    assert org.bank_holidays == "scotland" and org.reports_name_people is False
    assert (org.policy_name, org.policy_date, org.policy_clauses) == ("Our policy", "2025-09-01", clauses)


@pytest.mark.parametrize("toml,key", [
    ('[directory]\nfile = "x.csv"\n', "[directory].file"),
    ('[directory]\nscope = "pupils"\n', "[directory].scope"),
    ('[schedules.a]\nlunch = "12:00-13:00"\n', "[schedules.a].lunch"),
    ('[schedules.a]\nbreaks = ["12:00-1300"]\n', "[schedules.a].breaks[0]"),
    ('[schedules.a]\nworkdays = ["funday"]\n', "[schedules.a].workdays"),
    ('[schedules.a]\ntimezone = "Europe/Paris"\n', "[schedules.a].timezone"),
    ('[groups.g]\nschedule = "missing"\n', "[groups.g].schedule"),
    ('[groups.g]\nwork_hosts = ["https://x.com/"]\n', "[groups.g].work_hosts"),
    ('[groups.g]\nhosts = []\n', "[groups.g].hosts"),
    ('[sites.s]\nclients = ["10.1.0.0/33"]\n', "[sites.s].clients"),
    ('[sites.s]\nschedule = "nope"\n', "[sites.s].schedule"),
    ('[calendar]\nclosed = ["2026-13-01"]\n', "[calendar].closed[0]"),
    ('[calendar]\nclosed = ["2026-10-30..2026-10-26"]\n', "[calendar].closed[0]"),
    ('[calendar]\nclosed = ["2026-W45"]\n', "[calendar].closed[0]: expected \"YYYY-MM-DD\""),
    ('[calendar]\nclosed = ["2026-11-02", "20261102"]\n', "[calendar].closed[1]"),
    ('[calendar]\nclosed = ["2026-306..2026-11-06"]\n', "[calendar].closed[0]"),
    ('[calendar]\nbank_holidays = "wales"\n', "[calendar].bank_holidays"),
    ('[calendar]\nholidays = []\n', "[calendar].holidays"),
    ('[privacy]\nreports_name_people = "no"\n', "[privacy].reports_name_people"),
    ('[groups.Comms]\nwork_hosts = ["x.com"]\n[groups.comms]\n',
     "[groups.comms] and [groups.Comms] are one name (names ignore case): define it once"),
    ('[sites.North]\n[sites.NORTH]\n', "[sites.NORTH] and [sites.North] are one name"),
    ('[schedule]\nbreaks = ["18:00-19:00"]\n', "[schedule].breaks: 18:00-19:00 is outside the work hours 08:00-17:00"),
    ('[schedule]\nbreaks = ["10:00-11:00", "10:30-12:00"]\n', "[schedule].breaks: 10:00-11:00 and 10:30-12:00 overlap"),
    ('[schedule]\nworkdays = []\n', "[schedule].workdays: at least one day"),
    ('[schedules.late]\nwork_hours = "12:00-20:00"\nbreaks = ["10:30-10:50"]\n',
     "[schedules.late].breaks: 10:30-10:50 is outside the work hours 12:00-20:00"),
    ('[schedules.off]\nworkdays = []\n', "[schedules.off].workdays: at least one day"),
    ('[sites.a]\nclients = ["10.20.0.0/16"]\n[sites.b]\nclients = ["10.20.0.1/16"]\n',
     "[sites.b].clients: 10.20.0.0/16 is also [sites.a]'s: an address must belong to one site"),
    ('[policy]\nclauses = "/nonexistent/clauses.txt"\n', "[policy].clauses"),
    ('[policy]\ntitle = "x"\n', "[policy].title"),
])
def test_organisation_errors_name_the_key(toml, key):
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(toml))
    assert key in str(info.value)


@pytest.mark.parametrize("toml,key", [
    ('[store]\npath = "gs://trust/sa"\n', "[store].path: gs:// stores are not supported"),
    ('[store]\npath = ""\n', "[store].path is empty"),
    ('[store]\npath = "  "\n', "[store].path is empty"),
    ('[store]\npath = "s3://Trust_Bucket/sa"\n', "[store].path: 's3://Trust_Bucket/sa' is not an S3 location"),
    ('[store]\npath = "s3://trust/sa"\nendpoint = "ftp://x"\n', "[store].endpoint"),
    ('[store]\npath = "s3://trust/sa"\nendpoint = "http://minio.example.org:9000"\n',
     "[store].endpoint: 'http://minio.example.org:9000': plain http is only allowed for an endpoint on this machine"),
    ('[engine]\nkind = "flink"\n', "[engine].kind"),
    ('[engine]\nkind = "spark"\nmaster = "http://head"\n', "[engine].master"),
    ('[engine]\nthreads = 4\n', "[engine].threads"),
])
def test_store_uris_and_engines_this_version_cannot_serve_are_refused(toml, key):
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(toml))
    assert key in str(info.value)


@pytest.mark.parametrize("endpoint,ok", [
    ("https://minio.example.org", True), ("https://s3.eu-west-2.amazonaws.com/", True),
    ("http://127.0.0.1:9000", True), ("http://localhost:9000", True), ("http://[::1]:9000", True),
    ("http://minio.example.org:9000", False), ("ftp://x", False), ("https://", False),
    ("https://a b", False), ("minio.example.org", False), ("http://[bad", False),
])
def test_one_endpoint_rule_for_the_config_and_the_store_location(endpoint, ok):
    """[store].endpoint and the endpoint a store location takes (also from $AWS_ENDPOINT_URL)
    are held to the same rule: what one accepts the other does."""
    from surfaudit.store.s3 import Location

    toml = f'[store]\npath = "s3://trust/sa"\nendpoint = "{endpoint}"\n'
    outcomes = []
    for check in (lambda: parse_config(tomllib.loads(toml)), lambda: Location.parse("s3://trust/sa", endpoint)):
        try:
            check()
            outcomes.append(True)
        except ConfigError:
            outcomes.append(False)
    assert outcomes == [ok, ok]


def test_engine_duckdb_is_accepted():
    parse_config(tomllib.loads('[engine]\nkind = "duckdb"\nmaster = "local[*]"\n'))


def test_a_store_uri_on_the_command_line_is_refused(tmp_path):
    from tests.conftest import run_cli

    run = run_cli("--store", "gs://trust/sa", "report", "summary", cwd=tmp_path)
    assert run.code == 2 and run.out == ""
    assert "gs:// stores are not supported" in run.err
    assert not (tmp_path / "gs:").exists()


def test_an_s3_uri_is_a_store_location_never_a_path():
    cfg = parse_config(tomllib.loads('[store]\npath = "s3://trust/sa/"\nendpoint = "http://127.0.0.1:9000"\n'))
    assert (cfg.store_uri, cfg.store_endpoint) == ("s3://trust/sa", "http://127.0.0.1:9000")
    from surfaudit.config import load_config

    assert load_config(None, "s3://trust/x").store_uri == "s3://trust/x"


def test_an_unknown_key_is_told_the_closest_known_one_on_the_cli(tmp_path):
    from tests.conftest import run_cli

    conf = tmp_path / "surfaudit.toml"
    conf.write_text('[store]\npth = "data"\n')
    run = run_cli("--config", str(conf), "report", "summary", cwd=tmp_path)
    assert run.code == 2
    assert run.out == ""
    assert run.err == f"surfaudit: error: {conf}: [store].pth: unknown key (did you mean path?)\n"


def test_an_unknown_key_with_no_close_match_gets_no_suggestion(tmp_path):
    from tests.conftest import run_cli

    conf = tmp_path / "surfaudit.toml"
    conf.write_text('[store]\ncolour = "blue"\n')
    run = run_cli("--config", str(conf), "report", "summary", cwd=tmp_path)
    assert run.code == 2
    assert run.out == ""
    assert run.err == f"surfaudit: error: {conf}: [store].colour: unknown key\n"


@pytest.mark.parametrize("toml,message", [
    ('[ingest]\nrecursve = true\n', "[ingest].recursve: unknown key (did you mean recursive?)"),
    ('[stor]\npath = "x"\n', "unknown section [stor] (did you mean store?)"),
    ('[colours]\n', "unknown section [colours]"),
    ('[formats.squid]\nlogfomat = "x"\n', "[formats.squid].logfomat: unknown key (did you mean logformat? "
                                          "known: logformat)"),
    ('[formats.squid]\nformat = "x"\n', "[formats.squid].format: unknown key (did you mean logformat? "
                                        "known: logformat)"),
    ('[formats.vendor]\ntime = "T"\nurl = "U"\ndecison = "D"\n', "[formats.vendor].decison: unknown key "
                                                                 "(did you mean decision?)"),
    ('[policy]\ntitle = "x"\n', "[policy].title: unknown key (known: clauses, date, name)"),
    ('[policy]\nnmae = "x"\n', "[policy].nmae: unknown key (did you mean name? known: clauses, date, name)"),
])
def test_unknown_names_in_every_table_get_the_close_match(toml, message):
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(toml))
    assert str(info.value) == message


@pytest.mark.parametrize("command", [("purge",), ("report", "summary"), ("ingest", "nothing.log")])
def test_an_empty_store_path_is_refused_and_makes_no_store_of_the_directory(tmp_path, command):
    """`--store "$STORE"` with STORE unset (cron), or `path = ""` in the config: the
    current directory (or the config's) would otherwise become a private store."""
    from tests.conftest import run_cli

    config = tmp_path / "etc" / "surfaudit.toml"
    config.parent.mkdir()
    config.write_text('[store]\npath = ""\n')
    config.parent.chmod(0o755)
    for args in (("--config", str(config), *command), ("--store", "", *command)):
        run = run_cli(*args, cwd=tmp_path)
        assert run.code == 2 and run.out == "", run.err
        assert run.err.count("\n") == 1 and "is empty" in run.err and "Traceback" not in run.err
    assert sorted(p.name for p in config.parent.iterdir()) == ["surfaudit.toml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc"]
    assert config.parent.stat().st_mode & 0o777 == 0o755


def test_a_config_not_in_utf8_names_the_line_and_a_byte_order_mark_is_accepted(tmp_path):
    """Notepad's "ANSI" (cp1252) is one line naming the file and line; its UTF-8 with a
    byte order mark is read as the same TOML."""
    from surfaudit.config import load_config

    ansi = tmp_path / "ansi.toml"
    ansi.write_bytes('[schedule]\ntimezone = "Europe/London"\n# caf\u00e9 breaks\n'.encode("cp1252"))
    with pytest.raises(ConfigError) as info:
        load_config(ansi)
    assert str(info.value) == f"{ansi}: line 3: not UTF-8 (save the file as UTF-8)"
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + '[schedule]\ntimezone = "Europe/Paris"\n# caf\u00e9\n'.encode())
    assert load_config(bom).schedule.timezone == "Europe/Paris"


def test_every_bounded_key_is_checked_and_its_range_is_in_the_init_file(tmp_path):
    """The bounds are declared once (config_keys): parse_config refuses a value outside
    them naming the key, and the init file states the range above the key."""
    from surfaudit.config_keys import bounded, init_text, number

    text = init_text()
    assert len(bounded()) >= 7
    for section, name, least, most in bounded():
        assert f"# ({number(least)} to {number(most)})\n{name} = " in text, name
        path = tmp_path / f"{section}-{name}.toml"
        for value, word, bound in ((least - 1, "at least", least), (most + 1, "at most", most)):
            path.write_text(f"[{section}]\n{name} = {int(value)}\n")
            with pytest.raises(ConfigError, match=rf"\[{section}\]\.{name}: must be {word} {number(bound)}, got"):
                load_config(path)
        path.write_text(f"[{section}]\n{name} = {int(most)}\n")
        assert load_config(path)  # the bound itself is allowed
