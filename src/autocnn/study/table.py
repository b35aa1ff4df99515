"""The study's final table, from the stage results: JSON rows and a Markdown rendering.

One row per (dataset, method). Validation scores come from the search that chose the config
(BOHB, configuration transfer) or from a validation run (default config, weight transfer);
test scores are the final evaluations' mean ± std over seeds, and (with 2+ seeds) the test balanced
accuracy of the seeds' models as one ensemble, probabilities averaged. "Worst-class acc" is the
lowest per-class test accuracy of each seed's model, mean ± std (from the final evaluation's
``metrics.json``; studies from before it was recorded show "-"). "imbalance" is the class-
imbalance handling the final models trained with (chosen by the search, weight transfer's rule,
or ``none`` with ``--no-imbalance``). "best" is the method with the
highest mean test balanced accuracy on that dataset (the K49 metric; reported, not used to pick
anything).
"""

from __future__ import annotations

from typing import Any

from autocnn.final.evaluation import format_mean_std

# (dataset role, method, label, final-evaluation stage, search stage)
METHODS = (
    ("source", "default", "default config", "default-source", None),
    ("source", "bohb", "BOHB", "final-source", "bohb-source"),
    ("dest", "default", "default config", "default-dest", None),
    ("dest", "bohb", "BOHB (from scratch)", "final-bohb-dest", "bohb-dest"),
    ("dest", "weights", "weight transfer", "weights-dest", None),
    ("dest", "config", "configuration transfer", "final-config-dest", "config-dest"),
)


def _row(role: str, method: str, label: str, final: dict, search: dict | None) -> dict[str, Any]:
    summary = final["final"]["summary"]
    ensemble = summary.get("ensemble") or {}
    validation = final["final"].get("validation") or {}
    if search is not None:
        val_acc, val_bal = search.get("val_acc"), search.get("val_balanced_acc")
        search_seconds = search.get("wall_seconds")
    else:
        val_acc, val_bal = validation.get("val_acc"), validation.get("val_balanced_acc")
        search_seconds = None
    return {
        "dataset": role,
        "method": method,
        "label": label,
        "train_acc": summary["train_acc"],
        "val_acc": val_acc,
        "val_balanced_acc": val_bal,
        "test_acc": summary["test_acc"],
        "test_balanced_acc": summary["test_balanced_acc"],
        "test_worst_class_acc": summary.get("test_worst_class_acc"),
        "ensemble_test_balanced_acc": ensemble.get("test_balanced_acc"),
        "imbalance": (final["final"].get("config") or {}).get("imbalance", "none"),
        "n_params": summary.get("n_params"),
        "epochs": final["final"].get("epochs"),
        "search_seconds": search_seconds,
        "final_seconds": summary.get("seconds"),
        "model": f"{final['folder']}/{final['final'].get('model')}",
    }


def build_table(
    settings: dict[str, Any], preset: dict[str, Any], results: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """``study.json``'s content: settings, datasets, rows, per-dataset summary with "best"."""
    rows = []
    for role, method, label, final_stage, search_stage in METHODS:
        final = results.get(final_stage)
        if not final or final.get("skipped"):
            continue
        search = results.get(search_stage) if search_stage else None
        rows.append(_row(role, method, label, final, search))
    summary = {}
    for role in ("source", "dest"):
        mine = [r for r in rows if r["dataset"] == role]
        cells = {r["method"]: r["test_balanced_acc"] for r in mine}
        best = max(mine, key=lambda r: r["test_balanced_acc"]["mean"], default=None)
        summary[role] = {
            "dataset": settings[role],
            "test_balanced_acc": cells,
            "best": None if best is None else best["method"],
        }
    return {
        "settings": settings,
        "preset": preset,
        "datasets": results.get("data", {}).get("info", {}),
        "metric": "balanced_accuracy",
        "summary": summary,
        "rows": rows,
        "stage_seconds": {k: v.get("seconds") for k, v in results.items()},
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table_markdown(payload: dict[str, Any]) -> str:
    """The two tables of ``study.md``: summary per dataset and details per method."""
    labels = {"default": "default", "bohb": "BOHB", "weights": "weight transfer"}
    labels["config"] = "config transfer"
    settings = payload["settings"]
    lines = [
        f"# autocnn study: {settings['source']} -> {settings['dest']}",
        "",
        f"Preset `{settings['preset']}`, space `{settings['space']}`, seed {settings['seed']}. "
        "Test balanced accuracy in %, mean ± std over the final-evaluation seeds. Class-imbalance "
        "handling on the destination: "
        + ("on" if settings.get("imbalance", True) else "off (`--no-imbalance`)")
        + ".",
        "",
        "| dataset | " + " | ".join(labels.values()) + " | best |",
        "|---|" + "---|" * (len(labels) + 1),
    ]
    for role in ("source", "dest"):
        info = payload["summary"][role]
        cells = [format_mean_std(info["test_balanced_acc"].get(m)) for m in labels]
        best = labels.get(info["best"], "-") if info["best"] else "-"
        lines.append(f"| {info['dataset']} ({role}) | " + " | ".join(cells) + f" | {best} |")
    lines += [
        "",
        "| dataset | method | train acc | val acc | val bal. acc | test acc | test bal. acc "
        "| ensemble bal. acc | worst-class acc | imbalance | params | search s | final s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in payload["rows"]:
        lines.append(
            f"| {settings[r['dataset']]} | {r['label']} | {format_mean_std(r['train_acc'])} | "
            f"{_percent(r['val_acc'])} | {_percent(r['val_balanced_acc'])} | "
            f"{format_mean_std(r['test_acc'])} | {format_mean_std(r['test_balanced_acc'])} | "
            f"{_percent(r.get('ensemble_test_balanced_acc'))} | "
            f"{format_mean_std(r.get('test_worst_class_acc'))} | {r.get('imbalance', '-')} | "
            f"{r['n_params'] or '-'} | "
            f"{_seconds(r['search_seconds'])} | "
            f"{_seconds(r['final_seconds'])} |"
        )
    return "\n".join(lines) + "\n"
