"""What a finished fit hands over: the model exported, the report, and the summary in
``fit.json`` (:func:`autocnn.fit.job.fit`'s last stages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autocnn.fit.folder import FitFolder

Log = Callable[[str], None]


def deliver(folder: FitFolder, state: dict, log: Log) -> dict:
    """Export the model and write the report; a failure here never loses the model."""
    from autocnn.fit.report_page import write_report

    delivered: dict[str, Any] = {"model": str(folder.model)}
    try:
        from autocnn.final.export import export_model

        models = state["stages"]["final"].get("models") or [folder.model]  # an ensemble's all
        # the fit owns its export folder: a session killed while exporting left a partial one
        exported = export_model(models, folder.export, overwrite=True)
        delivered["export"] = {k: str(v) for k, v in exported.items()}
    except Exception as error:  # noqa: BLE001 - the .pt model is the deliverable; say why
        log(f"export skipped: {error}")
        delivered["export_error"] = str(error)
    delivered["report"] = str(write_report(folder, state))
    return delivered


def fit_summary(state: dict, seconds: float) -> dict[str, Any]:
    """The summary `fit.json` and the CLI show: the budget used, the search, the final, the
    baseline beside it when trained."""
    final, search = state["stages"]["final"], state["stages"]["search"]
    summary = {
        "seconds": seconds,
        "budget_seconds": state["budget_seconds"],
        "budget_used": seconds / state["budget_seconds"],
        "search_evaluations": search["evaluations"],
        "incumbent_val_loss": search["incumbent"]["val_loss"],
        "incumbent_budget": search["incumbent"]["budget"],
        "incumbent_config_id": search["incumbent"]["config_id"],
        "not_beaten": search.get("not_beaten"),  # the search's best, when the default was kept
        "final_epochs": final["epochs_trained"],
        "test_accuracy": final["test_accuracy"],
        "test_balanced_accuracy": final["test_balanced_accuracy"],
        "n_params": final["n_params"],
        # (height, width) trained on, and the images' own where fit scaled them
        "input_size": state.get("input_size", {}).get("hw"),
        "original_size": state.get("input_size", {}).get("original"),
        # the final ensemble's nets (absent: one net): config id, own test accuracy, epochs
        "final_members": final.get("members"),
    }
    if "baseline" in state:
        summary["baseline_test_accuracy"] = state["baseline"]["test_accuracy"]
        summary["baseline_test_balanced_accuracy"] = state["baseline"]["test_balanced_accuracy"]
        summary["baseline_epochs"] = state["baseline"]["epochs_trained"]
        summary["vs_baseline"] = state["baseline"].get("paired")  # the fit first
    return summary
