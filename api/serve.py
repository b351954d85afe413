"""Run the API with several workers and one shared de-identification process.

    python -m api.serve --host 0.0.0.0 --port 8000 --workers 2 [other uvicorn options]

Starts ``api.security.deidentify_server`` on a Unix socket, waits until it answers,
then runs ``uvicorn api.main:app`` with the given options and ``COA_DEIDENTIFY_SOCKET``
set, so every worker sends free text to that one process instead of loading
deduce (~1 GB) itself (issue 16: ≤ 400 MB per worker). When either process ends,
the other is stopped and the exit code is uvicorn's (or 1 when de-identification
died: the workers would answer 503 to every write with free text).

``COA_DEIDENTIFY_SOCKET`` already set: that process is used and none is started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from api.security.deidentify import SOCKET_ENV, DeidentificationUnavailable, _ask

_START_TIMEOUT_SECONDS = 300.0


def _wait_ready(path: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the de-identification process exited ({process.returncode})")
        try:
            _ask(path, "gereed")
            return
        except DeidentificationUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    helper = None
    if not env.get(SOCKET_ENV):
        folder = tempfile.mkdtemp(prefix="coa-deidentify-")
        env[SOCKET_ENV] = str(Path(folder) / "deidentify.sock")
        helper = subprocess.Popen(
            [sys.executable, "-m", "api.security.deidentify_server", "--socket", env[SOCKET_ENV]], env=env
        )
        _wait_ready(env[SOCKET_ENV], helper)
    api = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", *args], env=env)

    def stop(signum: int, _frame: object) -> None:
        api.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = None
    while code is None:
        code = api.poll()
        if code is None and helper is not None and helper.poll() is not None:
            api.terminate()
            api.wait(timeout=30)
            code = 1
        time.sleep(0.5)
    if helper is not None and helper.poll() is None:
        helper.terminate()
        helper.wait(timeout=30)
    return code


if __name__ == "__main__":
    sys.exit(main())
