"""The page of a study report: its sections, built with the run report's builder.

Kept apart from :mod:`autocnn.report.build` (which calls :func:`study_sections` when the source
is an ``autocnn study`` folder; both draw with :class:`~autocnn.report.sections.Builder`); the
tables, the comparison chart and the final evaluations come from :mod:`autocnn.report.study`.
"""

from __future__ import annotations

from autocnn.report import study as studies
from autocnn.report.html import Heading, Note, Section
from autocnn.report.load import Source
from autocnn.report.sections import Builder


def study_sections(builder: Builder, source: Source, top: int) -> list[Section]:
    """A study: final table, comparison, details, settings, its runs, its final evaluations."""
    study = source.study
    results = Section("Study results", [studies.final_table(study)])
    builder.figure(
        results,
        "transfer_comparison.png",
        "Transfer comparison",
        lambda: studies.comparison_figure(study),
        "Test balanced accuracy per dataset and method; bars: mean over the final-evaluation "
        "seeds, whiskers: \u00b11 std, dots: single seeds, black outline: the best method.",
    )
    results.items.append(studies.detail_table(study))
    setup = Section("Datasets, settings and runtimes")
    for table in (
        studies.datasets_table(study),
        studies.settings_table(study),
        studies.stage_table(study),
    ):
        if table is not None:
            setup.items.append(table)
    sections = [results, setup]
    runs = sorted(source.runs, key=lambda r: (studies.run_title(study, r.name)[0], r.name))
    for index, run in enumerate(runs):
        title = studies.run_title(study, run.name)[1]
        parts = builder.run_sections(run, f"run{index + 1}-", "", top, compact=True)
        merged = Section(f"Search: {title}")
        for n, part in enumerate(parts):
            if len(part.items) == 1 and isinstance(part.items[0], Note):
                merged.items.append(part.items[0])  # a one-line note needs no heading
                continue
            first = getattr(part.items[0], "title", None) if part.items else None
            if n > 0 and first != part.title:  # the overview's table has its own title
                merged.items.append(Heading(part.title))
            merged.items.extend(part.items)
        sections.append(merged)
    finals = studies.load_final_evaluations(source.path, study)
    section = Section("Final evaluations on the test sets")
    section.items.append(
        Note(
            "One figure per final evaluation: the seeds' test confusion matrices summed "
            "(every seed tests on the same images, so the recalls are the seeds' mean)."
        )
    )
    for index, final in enumerate(finals):
        if final.model is None:
            section.items.append(Note(f"{final.title}: {final.note}.", "warning"))
            continue
        builder.model_figure(
            section,
            final.model,
            f"final{index + 1}-",
            f"{final.title}, {final.n_seeds} seed{'s' if final.n_seeds != 1 else ''} pooled",
        )
    sections.append(section)
    builder.numbers["study"] = {
        "summary": study["summary"],
        "final_evaluations": [
            {
                "dataset": f.dataset,
                "method": f.method,
                "folder": f.folder,
                "n_seeds": f.n_seeds,
                "pooled_accuracy": f.model.accuracy if f.model else None,
                "pooled_balanced_accuracy": f.model.balanced_accuracy if f.model else None,
            }
            for f in finals
        ],
    }
    return sections
