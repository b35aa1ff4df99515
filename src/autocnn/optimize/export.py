"""Export a run in HpBandSter's ``json_result_logger`` layout, for tools that read HpBandSter runs.

Two files with one JSON list per line (``hpbandster.core.result.logged_results_to_HBS_result``
reads them):

- ``configs.json``: ``[config_id, config, {"model_based_pick": bool}]``
- ``results.json``: ``[config_id, budget, {"submitted": t, "started": t, "finished": t},
  {"loss": loss, "info": {...}} or null, exception or null]``

HpBandSter's ``config_id`` is a triple ``(iteration, 0, index)``: the bracket a config was first
sampled in and its position among that bracket's configs. Failed, diverged and crashed
evaluations get ``null`` as result and their reason as exception, as HpBandSter logs a worker
exception. Timestamps are Unix seconds.

Example::

    export_hpbandster(Path("runs/kmnist"), Path("runs/kmnist/hpbandster"))
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from autocnn.optimize.folder import RunFolder
from autocnn.optimize.store import Store, to_plain


def export_hpbandster(run_dir: Path, out_dir: Path) -> tuple[Path, Path]:
    """Write ``configs.json`` and ``results.json`` for ``run_dir`` into ``out_dir``.

    Pending evaluations are left out. Returns the two paths.
    """
    with Store.open(RunFolder(run_dir).require("export").db, readonly=True) as store:
        configs = store.configs()
        evaluations = store.evaluations()
    first_bracket: dict[int, int] = {}
    for evaluation in evaluations:
        first_bracket.setdefault(evaluation.config_id, evaluation.bracket)
    triples: dict[int, list[int]] = {}
    per_bracket: dict[int, int] = {}
    for row in configs:  # config ids grow in sampling order
        bracket = first_bracket.get(row.config_id, 0)
        triples[row.config_id] = [bracket, 0, per_bracket.get(bracket, 0)]
        per_bracket[bracket] = per_bracket.get(bracket, 0) + 1

    config_lines = [
        [triples[row.config_id], row.config, {"model_based_pick": row.model_based}]
        for row in configs
    ]
    result_lines = []
    for evaluation in evaluations:
        if not evaluation.done:
            continue
        timestamps = {
            "submitted": evaluation.submitted,
            "started": evaluation.started,
            "finished": evaluation.finished,
        }
        if evaluation.status == "ok":
            result, exception = {"loss": evaluation.loss, "info": evaluation.metrics}, None
        else:
            result = None
            exception = f"{evaluation.status}: {evaluation.error or 'no reason recorded'}"
        result_lines.append(
            [triples[evaluation.config_id], evaluation.budget, timestamps, result, exception]
        )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = out_dir / "configs.json", out_dir / "results.json"
    for path, lines in zip(paths, (config_lines, result_lines), strict=True):
        _write_lines(path, lines)
    return paths


def _write_lines(path: Path, lines: list) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(to_plain(line), allow_nan=False) + "\n")
    os.replace(partial, path)
