"""The SQLite run store: round trip, WAL reads during writes, foreign files, settings checks."""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import pytest

from autocnn.errors import RunError
from autocnn.optimize.store import PENDING, Store, to_plain
from autocnn.optimize.trial import CRASHED, FAILED, OK, Result, Trial

SETTINGS = {"method": "bohb", "eta": 3, "budgets": [1, 9], "seed": 0, "dataset": "kmnist"}


def make_trial(config_id: int, budget: float, **kw) -> Trial:
    return Trial(config_id, {"lr": 0.1 * (config_id + 1), "opt": "adam"}, budget, **kw)


def test_round_trip(tmp_path):
    with Store.open(tmp_path, create=True, settings=SETTINGS) as store:
        first = store.record_ask(make_trial(0, 1.0, model_based=True))
        second = store.record_ask(make_trial(1, 1.0))
        assert store.record_ask(None) is None  # an empty ask is logged, without a row
        store.record_tell(
            first,
            Result(OK, loss=0.25, metrics={"history": [0.5, 0.25]}, seconds=1.5, cost=1.0),
            worker="worker-0",
        )
        third = store.record_ask(make_trial(0, 3.0, previous_budget=1.0, stage=1))
        store.record_tell(second, Result(FAILED, error="ValueError: bad"))
    with Store.open(tmp_path / "run.db", settings=SETTINGS) as store:
        assert store.settings == SETTINGS
        configs = store.configs()
        assert [(c.config_id, c.model_based) for c in configs] == [(0, True), (1, False)]
        assert configs[1].config == {"lr": 0.2, "opt": "adam"}
        rows = store.evaluations()
        assert [(e.id, e.config_id, e.budget, e.status) for e in rows] == [
            (first, 0, 1.0, OK),
            (second, 1, 1.0, FAILED),
            (third, 0, 3.0, PENDING),
        ]
        assert rows[0].metrics == {"history": [0.5, 0.25]} and rows[0].worker == "worker-0"
        assert rows[0].result() == Result(
            OK, loss=0.25, metrics={"history": [0.5, 0.25]}, seconds=1.5, cost=1.0
        )
        assert rows[1].error == "ValueError: bad" and math.isinf(rows[1].loss)
        assert rows[2].previous_budget == 1.0 and rows[2].stage == 1
        assert [(e.kind, e.evaluation_id) for e in store.events()] == [
            ("ask", first),
            ("ask", second),
            ("ask", None),
            ("tell", first),
            ("ask", third),
            ("tell", second),
        ]
        assert [e.id for e in store.pending()] == [third]
        assert [e.id for e in store.evaluations(config_id=0)] == [first, third]
        summary = store.summary()
        assert summary.counts == {PENDING: 1, OK: 1, "diverged": 0, FAILED: 1, CRASHED: 0}
        assert summary.n_done == 2 and summary.n_configs == 2
        assert summary.best_loss == 0.25 and summary.seconds == 1.5


def test_incumbent_is_the_best_at_the_largest_budget(tmp_path):
    with Store.open(tmp_path, create=True) as store:
        assert store.incumbent() is None
        for config_id, budget, loss in [
            (0, 1.0, 0.01),
            (1, 3.0, 0.3),
            (2, 3.0, 0.2),
            (3, 9.0, None),
        ]:
            evaluation = store.record_ask(make_trial(config_id, budget))
            status = OK if loss is not None else CRASHED
            store.record_tell(evaluation, Result(status, loss=loss if loss else math.inf))
        incumbent = store.incumbent()
    # config 0 has the lowest loss but only at budget 1; config 3 crashed at budget 9
    assert (incumbent.config_id, incumbent.budget, incumbent.loss) == (2, 3.0, 0.2)
    assert incumbent.config == {"lr": 0.30000000000000004, "opt": "adam"}


def test_a_reader_sees_committed_rows_while_the_writer_is_mid_transaction(tmp_path):
    writer = Store.open(tmp_path, create=True, settings=SETTINGS)
    reader = Store.open(tmp_path, readonly=True)
    try:
        evaluation = writer.record_ask(make_trial(0, 1.0))
        assert reader.summary().counts[PENDING] == 1
        # hold a write transaction open: WAL lets the reader go on with the committed state
        writer._db.execute("BEGIN IMMEDIATE")
        writer._db.execute("UPDATE evaluations SET status = 'ok', loss = 0.5")
        assert [e.status for e in reader.evaluations()] == [PENDING]
        writer._db.execute("ROLLBACK")
        writer.record_tell(evaluation, Result(OK, loss=0.5))
        assert reader.summary().best_loss == 0.5
        with pytest.raises(RunError, match="read-only"):
            reader.record_ask(make_trial(1, 1.0))
    finally:
        reader.close()
        writer.close()


def test_files_that_are_not_stores_are_refused_untouched(tmp_path):
    text = tmp_path / "notes" / "run.db"
    text.parent.mkdir()
    text.write_bytes(b"this is not a database, not even close" * 100)
    with pytest.raises(RunError, match="not an autocnn run store"):
        Store.open(text)
    assert text.read_bytes() == b"this is not a database, not even close" * 100

    other = tmp_path / "other.db"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE things (a)")
    connection.commit()
    connection.close()
    with pytest.raises(RunError, match="SQLite file but not an autocnn run store"):
        Store.open(other)
    with pytest.raises(RunError, match="no run store"):
        Store.open(tmp_path / "missing")


def test_different_settings_are_refused_with_the_keys_named(tmp_path):
    Store.open(tmp_path, create=True, settings=SETTINGS).close()
    changed = dict(SETTINGS, eta=2, seed=np.int64(0))  # numpy 0 equals the stored 0
    with pytest.raises(RunError, match=r"eta: run has 3, given 2") as error:
        Store.open(tmp_path, settings=changed)
    assert "seed" not in str(error.value)
    with pytest.raises(RunError, match="extra: run has '<unset>'"):
        Store.open(tmp_path, settings=dict(SETTINGS, extra=1))


def test_numpy_values_are_stored_as_plain_json(tmp_path):
    config = {"lr": np.float64(0.01), "layers": np.int64(3), "bn": np.bool_(True), "act": "relu"}
    metrics = {"history": np.array([0.5, 0.25]), "nan": float("nan"), "acc": np.float32(0.5)}
    with Store.open(tmp_path, create=True) as store:
        evaluation = store.record_ask(Trial(0, config, 1.0))
        store.record_tell(evaluation, Result(OK, loss=np.float64(0.1), metrics=metrics))
        raw = store._db.execute("SELECT config FROM configs").fetchone()[0]
        row = store.evaluation(evaluation)
    assert json.loads(raw) == {"lr": 0.01, "layers": 3, "bn": True, "act": "relu"}
    assert row.metrics == {"history": [0.5, 0.25], "nan": None, "acc": 0.5}
    assert type(row.loss) is float
    assert to_plain((np.int32(1), {2: np.float16(0.5)})) == [1, {"2": 0.5}]


def test_a_result_is_recorded_once(tmp_path):
    with Store.open(tmp_path, create=True) as store:
        evaluation = store.record_ask(make_trial(0, 1.0))
        store.record_tell(evaluation, Result(OK, loss=0.5))
        with pytest.raises(RunError, match="not pending"):
            store.record_tell(evaluation, Result(OK, loss=0.1))
        # the refused tell changed nothing, not even the event log
        assert store.evaluation(evaluation).loss == 0.5
        assert [e.kind for e in store.events()] == ["ask", "tell"]
