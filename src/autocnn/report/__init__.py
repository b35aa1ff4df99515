"""Look before you read: plots, hyperparameter importance and a self-contained HTML report.

Reads finished (or running) artefacts only — a run's ``run.db``, a study's ``study.json``, metrics
JSON files — and never trains. One call writes everything::

    from autocnn.report import report
    result = report("runs/kmnist")            # runs/kmnist/report/report.html + PNGs
    print(result.html, result.notes)

Modules: ``load`` (read sources), ``analysis`` (trajectories, correlations, rankings),
``importance`` (random-forest fANOVA-style importance), ``plots`` (matplotlib figures),
``tables``, ``html`` (the page), ``study`` and ``study_page`` (an ``autocnn study`` folder: final
table, transfer comparison, runtimes, final evaluations), ``build`` (:func:`report`), ``command``
(the CLI).
"""

from __future__ import annotations

from autocnn.report.build import ReportResult, report
from autocnn.report.importance import Importance, hyperparameter_importance
from autocnn.report.load import ModelMetrics, RunData, Source, load_run, load_source

__all__ = [
    "Importance",
    "ModelMetrics",
    "ReportResult",
    "RunData",
    "Source",
    "hyperparameter_importance",
    "load_run",
    "load_source",
    "report",
]
