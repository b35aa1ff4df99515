"""The study: the seed's whole experiment in one resumable command, ending in its final table.

Stages, in order (each writes ``stages/<name>.json`` atomically when done; ``resume`` skips
the finished ones, and a search stage continues its run from ``run.db``)::

    data               load the source and destination datasets, record their sizes
    default-source     the space's default config: validation run + final evaluation (source)
    default-dest       the same on the destination
    bohb-source        BOHB on the source                          -> runs/bohb-source
    final-source       final evaluation of its incumbent (source)  -> final/bohb-source
    weights-dest       weight transfer of that model to the destination, fine-tuned + evaluated
    config-dest        configuration transfer: BOHB on the reduced space on the destination
    final-config-dest  final evaluation of its incumbent
    bohb-dest          BOHB on the destination from scratch (the baseline transfer must beat)
    final-bohb-dest    its final evaluation
    table              study.json + study.md: per dataset default / BOHB / weight transfer /
                       config transfer test scores (mean ± std), train / val / test, runtimes

Only the final evaluations read test parts. Example::

    result = study("kmnist10k-source", "kmnist10k-dest-longtail", out="studies/local",
                   preset="smoke", data_dir="../shared/data/kmnist")
    print(result["markdown"])
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autocnn.errors import RunError
from autocnn.final.evaluation import require_test_part
from autocnn.study.presets import get_preset
from autocnn.study.splits import resolve_dataset
from autocnn.study.table import build_table, table_markdown

SETTINGS_FILE = "study-settings.json"
RESULT_FILE, MARKDOWN_FILE = "study.json", "study.md"
STAGES = (
    "data",
    "default-source",
    "default-dest",
    "bohb-source",
    "final-source",
    "weights-dest",
    "config-dest",
    "final-config-dest",
    "bohb-dest",
    "final-bohb-dest",
    "table",
)
StageHook = Callable[[str, str], None]  # (stage, "start" | "done" | "skipped")


def study(
    source: str = "kmnist",
    dest: str = "k49",
    *,
    out: str | Path,
    preset: str = "small",
    resume: bool = False,
    space: str = "seed",
    data_dir: str | Path | None = None,
    workers: int = 1,
    seed: int = 0,
    init_weights: bool = False,
    dest_bohb: bool = True,
    imbalance: bool = True,
    on_stage: StageHook | None = None,
) -> dict[str, Any]:
    """Run (or with ``resume=True`` continue) the study in ``out``; returns ``study.json``.

    ``source`` / ``dest``: any dataset name (``kmnist``, ``k49``, ``npz:PATH``, ...) or the
    local stand-ins ``kmnist10k-source`` / ``kmnist10k-dest-longtail`` (see
    :mod:`autocnn.data.derived`). ``preset``: smoke, small or paper (:mod:`.presets`).
    ``init_weights``: configuration transfer starts its trials from the source model.
    ``dest_bohb=False`` skips the from-scratch BOHB baseline on the destination.
    ``imbalance=False``: no class-imbalance handling on the destination (its searches fix it to
    none, weight transfer fine-tunes without; the source is searched as always), to measure
    what the handling brings. On resume the stored settings are used; only ``workers`` may
    change.
    """
    from autocnn.artifacts import write_json

    out = Path(out)
    settings_path = out / SETTINGS_FILE
    if resume:
        if not settings_path.is_file():
            raise RunError(f"cannot resume {out}: it holds no study ({SETTINGS_FILE} is missing)")
        settings = json.loads(settings_path.read_text())
    else:
        if settings_path.exists():
            raise RunError(
                f"{out} already holds a study; continue it with --resume or choose another --out"
            )
        get_preset(preset)  # a bad name fails before anything is written
        for name in (source, dest):  # every final evaluation tests on the test parts
            require_test_part(name)
        settings = {
            "source": source,
            "dest": dest,
            "preset": preset,
            "space": space,
            "data_dir": None if data_dir is None else str(data_dir),
            "seed": seed,
            "init_weights": init_weights,
            "dest_bohb": dest_bohb,
            "imbalance": imbalance,
        }
        out.mkdir(parents=True, exist_ok=True)
        write_json(settings_path, settings)
    context = _Context(out, settings, get_preset(settings["preset"]), workers)
    emit = on_stage or (lambda stage, event: None)
    (out / "stages").mkdir(exist_ok=True)
    for name in STAGES:
        path = out / "stages" / f"{name}.json"
        if path.is_file():
            context.results[name] = json.loads(path.read_text())
            emit(name, "skipped")
            continue
        emit(name, "start")
        started = time.time()
        result = getattr(context, "stage_" + name.replace("-", "_"))()
        result["seconds"] = time.time() - started
        write_json(path, result)
        context.results[name] = result
        emit(name, "done")
    return json.loads((out / RESULT_FILE).read_text())


class _Context:
    """The stages' shared state: settings, preset, the results of earlier stages."""

    def __init__(self, out: Path, settings: dict[str, Any], preset: Any, workers: int) -> None:
        self.out, self.settings, self.preset, self.workers = out, settings, preset, workers
        self.results: dict[str, dict[str, Any]] = {}

    # ---------------------------------------------------------------- helpers
    @property
    def datasets(self) -> dict[str, str]:
        return self.results["data"]["datasets"]

    def _final(self, folder: str, run: Callable[[Path], Any]) -> dict[str, Any]:
        """A final evaluation into ``final/folder``; reuses one that finished before a kill."""
        target = self.out / "final" / folder
        metrics = target / "metrics.json"
        payload = json.loads(metrics.read_text()) if metrics.is_file() else run(target).to_dict()
        return {"folder": str(target.relative_to(self.out)), "final": _slim(payload)}

    def _evaluate(self, folder: str, **kwargs: Any) -> dict[str, Any]:
        from autocnn.final.evaluation import evaluate

        p = self.preset

        def run(target: Path):
            return evaluate(
                out=target, epochs=p.final_epochs, seeds=p.seeds, seed=self.settings["seed"],
                data_dir=self.settings["data_dir"], **kwargs,
            )  # fmt: skip

        return self._final(folder, run)

    def _time_left(self, folder: str) -> float | None:
        """The preset's wall-clock budget for this search, less what an earlier session used."""
        from autocnn.optimize.folder import RunFolder
        from autocnn.optimize.store import Store

        budget = self.preset.search_seconds(folder)
        run = RunFolder(self.out / "runs" / folder)
        if budget is None or not run.exists():
            return budget
        with Store.open(run.db, readonly=True) as store:
            totals = store.summary()
        return max(0.0, budget - totals.wall_seconds)

    def _search(
        self, folder: str, run: Callable[[Path, bool, float | None], Any]
    ) -> dict[str, Any]:
        """A search into ``runs/folder``, resumed when its run.db exists."""
        from autocnn.optimize.folder import RunFolder
        from autocnn.optimize.store import Store

        target = RunFolder(self.out / "runs" / folder)
        summary = run(target.path, target.exists(), self._time_left(folder))
        if summary.incumbent is None:
            raise RunError(f"the search in {target.path} found no working config; see its run.db")
        with Store.open(target.db, readonly=True) as store:
            totals = store.summary()
            metrics = store.evaluation(summary.incumbent.evaluation_id).metrics
        return {
            "folder": str(target.path.relative_to(self.out)),
            "n_evaluations": summary.n_evaluations,
            "counts": summary.counts,
            "incumbent_loss": summary.incumbent.loss,
            "incumbent_budget": summary.incumbent.budget,
            "val_acc": metrics.get("val_acc"),
            "val_balanced_acc": metrics.get("val_balanced_acc"),
            "compute_seconds": totals.seconds,
            "wall_seconds": totals.wall_seconds,
            "epochs_trained": totals.cost,
        }

    @property
    def dest_imbalance(self) -> bool:
        """Whether the destination's steps handle class imbalance (a study stored before this
        setting: yes)."""
        return self.settings.get("imbalance", True)

    def _bohb(self, folder: str, dataset: str, imbalance: bool = True) -> dict[str, Any]:
        from autocnn.optimize.run import optimize

        p, s = self.preset, self.settings

        def run(target: Path, resume: bool, time_limit: float | None):
            return optimize(
                dataset, out=target, space=s["space"], eta=p.eta, min_budget=p.min_budget,
                max_budget=p.max_budget, iterations=p.iterations, workers=self.workers,
                seed=s["seed"], resume=resume, data_dir=s["data_dir"], time_limit=time_limit,
                imbalance=imbalance,
            )  # fmt: skip

        return self._search(folder, run)

    # ---------------------------------------------------------------- stages
    def stage_data(self) -> dict[str, Any]:
        from autocnn import data

        s = self.settings
        datasets = {role: resolve_dataset(s[role]) for role in ("source", "dest")}
        info = {}
        for role, name in datasets.items():
            train = data.load(name, "train", data_dir=s["data_dir"])
            balance = data.class_balance_summary(train.class_counts())
            info[role] = {
                "name": s[role],
                "loader": name,
                "n_train": len(train),
                "n_classes": train.n_classes,
                "input_shape": list(train.input_shape),
                "class_counts": train.class_counts().tolist(),
                "imbalance_ratio": balance.ratio,
            }
        return {"datasets": datasets, "info": info}

    def stage_default_source(self) -> dict[str, Any]:
        return self._evaluate(
            "default-source",
            config="default",
            dataset=self.datasets["source"],
            space=self.settings["space"],
            validate=True,
        )

    def stage_default_dest(self) -> dict[str, Any]:
        return self._evaluate(
            "default-dest",
            config="default",
            dataset=self.datasets["dest"],
            space=self.settings["space"],
            validate=True,
        )

    def stage_bohb_source(self) -> dict[str, Any]:
        return self._bohb("bohb-source", self.datasets["source"])

    def stage_final_source(self) -> dict[str, Any]:
        return self._evaluate("bohb-source", run=self.out / "runs" / "bohb-source")

    def stage_weights_dest(self) -> dict[str, Any]:
        from autocnn.transfer.weight_transfer import transfer_weights

        p, s = self.preset, self.settings

        def run(target: Path):
            return transfer_weights(
                self.out / "final" / "bohb-source", self.datasets["dest"], out=target,
                epochs=p.finetune_epochs, freeze_epochs=p.freeze_epochs,
                backbone_lr_factor=p.backbone_lr_factor, seeds=p.seeds, seed=s["seed"],
                data_dir=s["data_dir"], validate=True,
                imbalance="auto" if self.dest_imbalance else "none",
            )  # fmt: skip

        return self._final("weights-dest", run)

    def stage_config_dest(self) -> dict[str, Any]:
        from autocnn.transfer.search import transfer_config

        p, s = self.preset, self.settings
        init = self.out / "final" / "bohb-source" if s["init_weights"] else False

        def run(target: Path, resume: bool, time_limit: float | None):
            return transfer_config(
                self.out / "runs" / "bohb-source", self.datasets["dest"], out=target,
                init_weights=init, eta=p.eta, min_budget=p.min_budget, max_budget=p.max_budget,
                iterations=p.iterations, workers=self.workers, seed=s["seed"], resume=resume,
                data_dir=s["data_dir"], time_limit=time_limit,
                imbalance=self.dest_imbalance,
            )  # fmt: skip

        return self._search("config-dest", run)

    def stage_final_config_dest(self) -> dict[str, Any]:
        return self._evaluate("config-dest", run=self.out / "runs" / "config-dest")

    def stage_bohb_dest(self) -> dict[str, Any]:
        if not self.settings["dest_bohb"]:
            return {"skipped": True}
        return self._bohb("bohb-dest", self.datasets["dest"], self.dest_imbalance)

    def stage_final_bohb_dest(self) -> dict[str, Any]:
        if not self.settings["dest_bohb"]:
            return {"skipped": True}
        return self._evaluate("bohb-dest", run=self.out / "runs" / "bohb-dest")

    def stage_table(self) -> dict[str, Any]:
        from autocnn.artifacts import write_json

        payload = build_table(self.settings, self.preset.to_dict(), self.results)
        payload["markdown"] = table_markdown(payload)
        write_json(self.out / RESULT_FILE, payload)
        tmp = self.out / (MARKDOWN_FILE + ".tmp")
        tmp.write_text(payload["markdown"])
        tmp.replace(self.out / MARKDOWN_FILE)
        return {"written": [RESULT_FILE, MARKDOWN_FILE]}


def _slim(metrics: dict[str, Any]) -> dict[str, Any]:
    """A final evaluation's metrics without the bulky per-seed confusion matrices."""
    keep = ("dataset", "config", "epochs", "seeds", "model", "summary", "validation", "kind")
    slim = {k: metrics.get(k) for k in keep}
    if isinstance(slim.get("validation"), dict):
        slim["validation"] = {k: v for k, v in slim["validation"].items() if k != "history"}
    return slim
