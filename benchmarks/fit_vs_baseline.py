"""Fits against their baselines, image by image: McNemar's exact test per seed and over seeds.

For each ``FIT`` folder (a finished ``autocnn fit --baseline``), the fit's model (its whole final
ensemble) and the baseline's predict the dataset's test part again, and
:mod:`autocnn.final.paired` counts the test images only one of them gets right. Over several fits
(seeds) it prints the mean accuracy difference ± its standard error over the seeds (the seeds
differ in their models, not in their test images) and the summed counts. Every prediction is
checked against the test accuracy the fit recorded, and against ``test_predictions.npz`` where
the fit's code wrote one. Reads the test part, as a final evaluation does: after the fits, never
during a search. Run it from the folder the fits ran in (their ``--data-dir`` may be relative).

Example::

    python benchmarks/fit_vs_baseline.py OUT/seed-0 OUT/seed-1 OUT/seed-2 --out vs.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from autocnn import api, data
from autocnn.final.evaluation import saved_predictions
from autocnn.final.paired import compare_predictions
from autocnn.fit.folder import FitFolder


def predicted(model: Path, images: Path, out: Path) -> np.ndarray:
    """``model``'s labels for ``images`` (a fit folder: its whole final ensemble)."""
    return np.asarray(api.predict(model, images, out=out))


def compare_fit(path: Path, work: Path) -> dict:
    folder = FitFolder(path)
    state = folder.read()
    s = state["summary"]
    if "baseline_test_accuracy" not in s:
        raise SystemExit(f"{path}: this fit has no baseline (run it with --baseline)")
    test = data.load(state["dataset"], "test", data_dir=state["data_dir"])
    y = test.y.numpy()
    np.savez(work / "images.npz", x=test.x.numpy())
    fit = predicted(folder.path, work / "images.npz", work / "fit.npz")
    baseline = predicted(folder.baseline, work / "images.npz", work / "baseline.npz")
    checks = {"fit": (fit, s["test_accuracy"]),
              "baseline": (baseline, s["baseline_test_accuracy"])}  # fmt: skip
    for name, (labels, recorded) in checks.items():
        if abs(np.mean(labels == y) - recorded) > 1e-9:
            raise SystemExit(f"{path}: the {name}'s model now tests {np.mean(labels == y):.4f}, "
                             f"its fit recorded {recorded:.4f}")  # fmt: skip
    for where, labels in ((folder.final, fit), (folder.baseline, baseline)):
        saved = saved_predictions(where)
        if saved is not None and not np.array_equal(saved[1], labels):
            raise SystemExit(f"{where}: test_predictions.npz differs from a new prediction")
    c = compare_predictions(y, fit, baseline)
    return {"fit": str(path), "seed": state["seed"], "test_accuracy": s["test_accuracy"],
            "baseline_test_accuracy": s["baseline_test_accuracy"], **c.to_dict()}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fits", nargs="+", type=Path, help="finished fit --baseline folders")
    parser.add_argument("--out", type=Path, help="also write the rows and totals here (JSON)")
    args = parser.parse_args(argv)
    rows = []
    for path in args.fits:
        with tempfile.TemporaryDirectory() as work:
            rows.append(compare_fit(path, Path(work)))
        r = rows[-1]
        print(f"seed {r['seed']}: fit {100 * r['test_accuracy']:.2f} %, baseline "
              f"{100 * r['baseline_test_accuracy']:.2f} %; {r['only_first']} images right only "
              f"with the fit, {r['only_second']} only with the baseline, McNemar exact p = "
              f"{r['p_value']:.3f}  ({r['fit']})", flush=True)  # fmt: skip
    differences = [r["accuracy_difference"] for r in rows]
    totals = {
        "n_fits": len(rows),
        "mean_difference": statistics.fmean(differences),
        "standard_error": (
            statistics.stdev(differences) / len(rows) ** 0.5 if len(rows) > 1 else None
        ),
        "only_fit": sum(r["only_first"] for r in rows),
        "only_baseline": sum(r["only_second"] for r in rows),
    }
    se = totals["standard_error"]
    print(f"over {len(rows)} fits: fit minus baseline {100 * totals['mean_difference']:+.3f} points"
          + ("" if se is None else f" ± {100 * se:.3f} (standard error over the seeds)")
          + f"; {totals['only_fit']} test images right only with a fit, "
          f"{totals['only_baseline']} only with its baseline")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"rows": rows, "totals": totals}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
