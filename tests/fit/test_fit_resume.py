"""A fit killed by a real signal resumes with the time it had left, without searching again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

from fit_helpers import BUDGET, FINAL_LEFT, spend_all_but

from autocnn import api
from autocnn.fit.folder import FitFolder
from autocnn.optimize.store import Store


def test_sigterm_during_the_final_training_then_resume_continues_with_the_time_left(
    tiny, tmp_path, load_log
):
    """A real process and a real signal: the search is kept, the budget spent is remembered,
    and the resumed session plans its final training from the time that is left."""
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "autocnn.cli", "fit", tiny, "--time", str(BUDGET),
               "--space", "seed", "--quiet", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env)  # fmt: skip
    for line in process.stdout:  # wait until the final training has started
        if line.startswith("final training"):
            break
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    rest = process.communicate(timeout=120)[0]
    assert process.returncode == 143, rest
    state = json.loads((out / "fit.json").read_text())
    assert "search" in state["stages"] and "final" not in state["stages"]
    assert 0 < FitFolder(out).spent() < BUDGET - FINAL_LEFT  # killed early in the final training
    spent = spend_all_but(FitFolder(out), FINAL_LEFT)
    with Store.open(FitFolder(out).search.db, readonly=True) as store:
        evaluations = store.count()
    lines: list[str] = []
    resumed = api.fit(out=out, resume=True, log=lines.append)
    assert resumed["done"] and resumed["summary"]["seconds"] >= spent
    with Store.open(FitFolder(out).search.db, readonly=True) as store:
        assert store.count() == evaluations  # the search was not run again
    final = [line for line in lines if line.startswith("final training")]
    assert len(final) == 1  # planned again, from what is left (a fresh plan would give ~40 s)
    assert 0 < float(re.search(r": (\d+) s on ", final[0]).group(1)) <= FINAL_LEFT
    assert [part for _, part in load_log].count("test") == 1  # the final test, once
