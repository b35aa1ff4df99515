"""``autocnn report`` through argparse, as the lead wires it into the CLI."""

from __future__ import annotations

import argparse

import pytest

from autocnn.errors import AutocnnError
from autocnn.report.command import add_commands


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="autocnn")
    add_commands(main.add_subparsers(dest="command", required=True))
    return main


def test_report_command_writes_the_page(make_run, tmp_path, capsys):
    run = make_run([{"config": {"x": 0.1}, "budget": 1, "loss": 0.4}])
    args = parser().parse_args(["report", str(run), "--out", str(tmp_path / "r"), "--top", "3"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "report.html" in out and "note:" in out  # a one-evaluation run has notes
    assert (tmp_path / "r" / "report.html").exists()
    args = parser().parse_args(["report", str(run), "--out", str(tmp_path / "r")])
    with pytest.raises(AutocnnError, match="--force"):
        args.func(args)
    args = parser().parse_args(["report", str(run), "--out", str(tmp_path / "r"), "--force"])
    assert args.func(args) == 0


def test_report_command_options():
    args = parser().parse_args(["report", "RUN", "--metrics", "a.json", "--metrics", "b.json"])
    assert (args.source, args.out, args.metrics, args.top, args.force) == (
        "RUN",
        None,
        ["a.json", "b.json"],
        5,
        False,
    )
