"""The metrics of one process are created once, whichever thread asks first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# A fresh interpreter: the Prometheus client's registry is global, and a conductor
# process is one too. Its loop thread (store calls) and main thread (publishing)
# both ask for the metrics at start.
RACE = """
import threading
from berthing.service import metrics
metrics.prepare(__import__("pathlib").Path({directory!r}))
start, failures = threading.Barrier(8), []
def ask():
    start.wait()
    try:
        metrics._m()
    except Exception as exc:
        failures.append(repr(exc))
threads = [threading.Thread(target=ask) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(failures)
"""


def test_threads_asking_at_once_create_the_metrics_once(tmp_path: Path) -> None:
    for attempt in range(5):
        code = RACE.format(directory=str(tmp_path / str(attempt)))
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == "[]", done.stdout
