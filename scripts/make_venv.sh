#!/usr/bin/env bash
# make_venv.sh DIR PYTHON REQUIREMENTS.in LOCK
# Creates or updates a virtual environment from the direct requirements, pinned
# by the lock file (pip constraints), so a fresh machine gets what we tested.
set -euo pipefail
dir=$1 python=$2 reqs=$3 lock=$4
if [ ! -x "$dir/bin/python" ]; then
  echo "creating $dir with $python"
  "$python" -m venv "$dir"
fi
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip wheel
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs" -c "$lock"
