"""The import rules of DESIGN §2, made executable.

import-linter checks the contracts in pyproject.toml; the AST checks below cover
what it cannot say: nothing at all imports surfaudit.cli, the package root
imports nothing, only the store spells out the on-disk layout, and queries/ is
data (no __init__.py) shipped with every report having its header.
"""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("surfaudit", "ingest", "retention")


def modules():
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            yield path, ast.parse(path.read_text(), str(path))


def imported_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is not installed: install the dev dependency group")
    run = subprocess.run([exe, str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_nothing_imports_the_cli():
    offenders = [str(p.relative_to(ROOT)) for p, tree in modules()
                 if p.name not in ("cli.py", "__main__.py") and any(n.startswith("surfaudit.cli") for n in imported_names(tree))]
    assert offenders == []


def test_package_root_imports_nothing():
    tree = ast.parse((ROOT / "surfaudit" / "__init__.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_only_the_store_knows_the_layout():
    layout_words = ("month=", "manifest.jsonl", "audit.jsonl", "part-")
    offenders = []
    for path, tree in modules():
        if path.parent.name == "store" and path.parent.parent.name == "surfaudit":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and any(w in node.value for w in layout_words):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_queries_are_data_with_headers():
    qdir = ROOT / "queries"
    assert not (qdir / "__init__.py").exists()
    sqls = sorted(qdir.glob("*.sql"))
    assert sqls
    for sql in sqls:
        head = sql.read_text().splitlines()[:10]
        for tag in ("-- name:", "-- description:", "-- params:"):
            assert any(line.startswith(tag) for line in head), f"{sql.name} lacks {tag}"


def test_modules_stay_small_and_documented():
    for path, tree in modules():
        assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} has no module docstring"
        assert len(path.read_text().splitlines()) <= 450, f"{path.relative_to(ROOT)} is too long"


def test_every_dependency_is_pinned_in_constraints():
    """constraints.txt (tools/lock.sh) pins each runtime and dev dependency and the
    [fast] extra, so the installs .ci/run makes are reproducible; a dependency added
    without a new lock fails here."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = (project["project"]["dependencies"] + project["dependency-groups"]["dev"]
                + project["project"]["optional-dependencies"]["fast"])
    norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731 - PEP 503 names
    wanted = {norm(re.match(r"[A-Za-z0-9._-]+", spec).group()) for spec in declared}
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[norm(name)] = version
    assert sorted(wanted - set(pins)) == [], "not in constraints.txt: run tools/lock.sh"


def test_requires_python_has_no_upper_bound():
    """The bound was numba's (it supports a new CPython release months after it
    is out); numba is the optional [fast] extra now, so a new release installs and
    runs on the reference parsers instead of being refused."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert not any(d.startswith("numba") for d in project["dependencies"])


def test_only_the_compiled_scanners_import_numba():
    """numba is an accelerator (an optional extra): every module but those of
    ingest/fast/ must import without it, and reach that package only through its
    guard (`from ingest import fast`, then `fast.enabled()` and `fast.load`)."""
    offenders = []
    for path, tree in modules():
        if path.parent.name == "fast" and path.parent.parent.name == "ingest":
            continue
        for name in set(imported_names(tree)):
            if name.split(".")[0] in ("numba", "llvmlite") or name.startswith("ingest.fast."):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []
