#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter for the assistant environment
# (Rasa 3.6 pins Python < 3.11). Order: $PYTHON310, python3.10 on PATH, pyenv.
set -euo pipefail
ok() { "$1" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; }
if [ -n "${PYTHON310:-}" ] && ok "$PYTHON310"; then echo "$PYTHON310"; exit 0; fi
if command -v python3.10 >/dev/null 2>&1 && ok python3.10; then command -v python3.10; exit 0; fi
if command -v pyenv >/dev/null 2>&1; then
  for candidate in $(ls -d "$(pyenv root)"/versions/3.10.* 2>/dev/null | sort -V -r); do
    if ok "$candidate/bin/python3.10"; then echo "$candidate/bin/python3.10"; exit 0; fi
  done
fi
echo "No Python 3.10 found: set PYTHON310=/path/to/python3.10 (Rasa 3.6 needs Python 3.10)" >&2
exit 1
