"""The docstring examples (``>>>``) of the packages whose examples need no data files run and
give what they say. ``Example::`` blocks are literal text, not doctests, and are not run."""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import pytest

import autocnn.optimize
import autocnn.space

PACKAGES = [autocnn.space, autocnn.optimize]
MODULES = ["autocnn.fit.plan", "autocnn.fit.budget", "autocnn.train.precision",
           "autocnn.train.device", "autocnn.data.folders", "autocnn.fit.report_page",
           "autocnn.final.paired"]  # fmt: skip


def module_names() -> list[str]:
    names = [package.__name__ for package in PACKAGES] + list(MODULES)
    for package in PACKAGES:
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    return sorted(set(names))


@pytest.mark.parametrize("name", module_names())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    for test in finder.find(module, name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()


def test_the_examples_that_must_run_are_found():
    # the modules named in the code-health issue (#14) all have examples
    found = {}
    for name in module_names():
        tests = doctest.DocTestFinder().find(importlib.import_module(name), name)
        found[name] = sum(len(t.examples) for t in tests)
    for name in ["autocnn.space.configs", "autocnn.optimize.bohb", "autocnn.optimize.incumbent",
                 "autocnn.optimize.settings", "autocnn.optimize.folder", "autocnn.fit.plan",
                 "autocnn.fit.budget"]:  # fmt: skip
        assert found[name] > 0, name
