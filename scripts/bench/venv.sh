#!/usr/bin/env bash
# Prepares the benchmark's Python environment in .ward/venv (created with python3 -m venv,
# packages from requirements.txt beside this script) and prints its python on stdout.
# Installs again only when requirements.txt has changed since the last install.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=$(cd "$here/../.." && pwd)/.ward/venv
requirements=$here/requirements.txt
# A copy of the requirements last installed, to tell whether the venv is current.
installed=$venv/requirements.installed

if ! cmp -s "$requirements" "$installed" 2>/dev/null; then
    echo "venv.sh: installing the benchmark's Python packages into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --requirement "$requirements" >&2
    cp "$requirements" "$installed"
fi
echo "$venv/bin/python"
