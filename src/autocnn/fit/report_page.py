"""The fit's report: what the fit decided and delivered, first, then the search's own sections.

A fit's report is its search's run report (:func:`autocnn.report.report`) with the final
model's test metrics, preceded by one section only the fit can write: the budget and how it
was spent, the plan, which config the final trained and why (the search's incumbent is not
always it: the default stays unless beaten by more than validation noise), the test result and,
with ``--baseline``, the default trained for the same time beside it. Without it a reader saw
the search's incumbent in the overview and had to guess that the fit had trained another net.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autocnn.final.paired import PairedComparison
from autocnn.fit.plan import FitPlan, format_clock
from autocnn.report.html import Note, Section, Table

TITLE = "What this fit did"


def fit_preface(state: dict[str, Any]) -> Section:
    """The section a fit's report starts with, from ``fit.json``'s content ``state``.

    Example:
        >>> state = {"dataset": "kmnist10k", "budget_seconds": 300.0, "stages": {
        ...     "search": {"evaluations": 0, "counts": {}, "seconds": 0.0,
        ...                "incumbent": {"config_id": None}},
        ...     "final": {"test_accuracy": 0.99, "test_balanced_accuracy": 0.99,
        ...               "epochs_trained": 262.0, "elapsed": 290.0}}}
        >>> [row[0] for row in fit_preface(state).items[0].rows][:3]
        ['dataset', 'budget', 'search']
        >>> state["stages"]["search"].update(evaluations=18, counts={"ok": 18}, seconds=524.0,
        ...                                  unused_seconds=182.0)
        >>> fit_preface(state).items[0].rows[2][1][:60]
        '18 evaluations (18 ok) in 8:44; it ended 3:02 early, when no'
    """
    stages = state["stages"]
    search, final = stages["search"], stages.get("final", {})
    rows: list[list[Any]] = [["dataset", state["dataset"]]]
    used = state.get("summary", {}).get("seconds", final.get("elapsed"))
    budget = format_clock(state["budget_seconds"])
    if used is not None:
        budget += f" ({format_clock(used)} used, {used / state['budget_seconds']:.1%})"
    rows.append(["budget", budget])
    size = state.get("input_size")
    if size and size["side"] is not None:  # fit scaled the images (autocnn.fit.resolution)
        (h, w), (th, tw) = size["original"], size["hw"]
        rows.append(["input size", f"{w}x{h} images trained at {tw}x{th}: {size['reason']}"])
    if "plan" in state:
        rows += [["plan", line] for line in FitPlan.from_dict(state["plan"]).describe()]
    if search["evaluations"]:
        counts = ", ".join(
            f"{n} {status}" for status, n in sorted(search["counts"].items(), key=_by_count) if n
        )
        rows.append(["search", f"{search['evaluations']} evaluations ({counts}) in "
                               f"{format_clock(search['seconds'])}"])  # fmt: skip
        if search.get("unused_seconds"):
            rows[-1][1] += (f"; it ended {format_clock(search['unused_seconds'])} early, when no "
                            "evaluation left could finish in time, and gave that time to the "
                            "final training")  # fmt: skip
    else:
        rows.append(["search", "none: the default got the whole budget"])
    rows.append(["trained", _what_trained(search)])
    method = (search["incumbent"].get("config") or {}).get("imbalance")
    if method not in (None, "none"):
        rows.append(["class-imbalance handling", method.replace("_", " ")])
    if final:
        nets = search.get("nets", 1)
        rows.append(["final training", f"{nets} net{'s' * (nets > 1)} of "
                     f"{final['epochs_trained']:.1f} epochs on all training images"
                     + (", probabilities averaged" if nets > 1 else "")])  # fmt: skip
        rows.append(["test accuracy", _percent(final["test_accuracy"])])
        rows.append(["test balanced accuracy", _percent(final["test_balanced_accuracy"])])
    baseline = state.get("baseline")
    if baseline:
        rows.append(["baseline: the default alone for the same time",
                     f"{_percent(baseline['test_accuracy'])} (balanced "
                     f"{_percent(baseline['test_balanced_accuracy'])}, "
                     f"{baseline['epochs_trained']:.1f} epochs)"])  # fmt: skip
        if baseline.get("paired"):
            rows.append(["the fit vs the baseline, image by image",
                         versus_baseline(baseline["paired"])])  # fmt: skip
    table = Table("The fit", ["", ""], rows, align_numbers=False)
    note = Note(
        "The sections below are the search's own: its incumbent is the search's best result, "
        "which the final training uses only if it beats the space's default by more than the "
        "validation set's noise (the row 'trained' says which it was). The test metrics are "
        "the final model's."
    )
    return Section(TITLE, [table, note])


def versus_baseline(paired: dict[str, Any]) -> str:
    """The fit's model against its baseline, image by image (:mod:`autocnn.final.paired`)."""
    return PairedComparison.from_dict(paired).describe("the fit", "the baseline")


def _what_trained(search: dict[str, Any]) -> str:
    incumbent = search["incumbent"]
    if incumbent.get("config_id") in (None, 0):
        what = "the space's default"
        beaten = search.get("not_beaten")
        if beaten:
            what += (
                f", kept over the search's best, config {beaten['config_id']} (validation error "
                f"{beaten['val_loss']:.4f} at {beaten['budget']:.0f} s), which did not beat it "
                "by more than the validation noise" + _duel(search.get("duel"))
            )
        return what
    return (
        f"config {incumbent['config_id']}, the search's incumbent (validation error "
        f"{incumbent['val_loss']:.4f} at {incumbent['budget']:.0f} s), which beat the default"
        + _duel(search.get("duel"))
    )


def _duel(record: dict[str, Any] | None) -> str:
    """A duel's scores (both trained again at the challenger's budget, autocnn.fit.duel)."""
    if not record or not record.get("losses"):
        return ""
    from autocnn.fit.duel import describe_scores

    scores = describe_scores(record["losses"])
    return f" in a duel: both trained again for {record['budget']:.0f} s ({scores})"


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def write_report(folder, state: dict[str, Any]) -> Path:
    """(Re)write the fit's report in ``folder.report``; returns its HTML file."""
    from autocnn.report import report

    tested = folder.final / "metrics.json"
    preface, title = fit_preface(state), f"autocnn fit report \u2014 {folder.path.name}"
    if folder.search.exists():
        result = report(folder.search.path, folder.report, metrics=[tested], force=True,
                        preface=preface, title=title)  # fmt: skip
    else:  # no search ran: the report shows the final model alone
        result = report(tested, folder.report, force=True, preface=preface, title=title)
    return result.html
