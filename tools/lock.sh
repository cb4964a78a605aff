#!/usr/bin/env bash
# Regenerate constraints.txt, the pinned versions that make an install reproducible:
# a fresh venv, the project installed with its dev group, then `pip freeze`.
# Run it after adding or upgrading a dependency in pyproject.toml, and commit the file;
# .ci/run installs with `-c constraints.txt`, and tests/test_architecture.py fails when a
# declared dependency has no pin here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PY" -m venv "$TMP/venv"
"$TMP/venv/bin/python" -m pip install -q --upgrade "pip>=25.1"
"$TMP/venv/bin/python" -m pip install -q '.[fast]' --group dev
{
  echo "# Pinned versions of every dependency (runtime and dev group), from a fresh install"
  echo "# with $("$TMP/venv/bin/python" -V). Regenerate with tools/lock.sh; used by .ci/run as"
  echo "# pip install -c constraints.txt -e '.[fast]' --group dev"
  "$TMP/venv/bin/python" -m pip freeze --exclude-editable | grep -iv '^surfaudit\b' | LC_ALL=C sort -f
} > constraints.txt
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) pins)"
