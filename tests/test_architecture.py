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


# The store's insides (issue #15): callers and the store's own modules use each
# other's public names only, and the store package imports without a cycle.
STORE_AND_CALLERS = ("surfaudit/store", "retention", "surfaudit/compact.py", "surfaudit/audit.py",
                     "surfaudit/verify.py", "surfaudit/nightly.py", "ingest/fingerprint.py")


def _under(path: Path, prefixes) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == p or rel.startswith(p + "/") for p in prefixes)


def _type_checking_only(tree) -> set[int]:
    """ids of the nodes inside `if TYPE_CHECKING:` blocks (never run)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    return skip


def test_no_module_touches_another_modules_private_store_helpers():
    """`store._append_manifest(...)` from a transaction, `from surfaudit.store import _mkdir`:
    a name with a leading underscore is used only by its own module or class (`self._x`)."""
    offenders = []
    for path, tree in modules():
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("surfaudit.store"):
                offenders += [f"{where}:{node.lineno}: imports {a.name}" for a in node.names if a.name.startswith("_")]
            if (_under(path, STORE_AND_CALLERS) and isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                offenders.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []


def test_a_transaction_uses_only_the_stores_public_methods():
    tree = ast.parse((ROOT / "surfaudit" / "store" / "transaction.py").read_text())
    private = [f"line {n.lineno}: {ast.unparse(n)}" for n in ast.walk(tree)
               if isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__")
               and "store" in ast.unparse(n.value)]
    assert private == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, function-level imports included (one
    that is there only to dodge a cycle is still a cycle); type-only imports are not."""
    trees = {_module_name(path): (path, tree) for path, tree in modules()}
    graph: dict[str, set[str]] = {}
    for name, (path, tree) in trees.items():
        skip = _type_checking_only(tree)
        edges = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in trees)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:  # `from pkg import submodule` imports the submodule
                    sub = f"{node.module}.{a.name}"
                    edges.add(sub if sub in trees else node.module)
        graph[name] = {e for e in edges if e in trees and e != name}
    return graph


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_the_store_and_retention_import_without_cycles():
    graph = _import_graph()
    cycles = [_cycle_through(graph, m) for m in sorted(graph)
              if m.startswith(("surfaudit.store", "retention")) or m in ("surfaudit.compact", "surfaudit.audit",
                                                                          "ingest.fingerprint")]
    assert [" -> ".join(c) for c in cycles if c] == []
