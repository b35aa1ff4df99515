"""The incumbent rule for time-limited searches (issue #13's case, built in a real store)."""

from __future__ import annotations

from autocnn.optimize.incumbent import Scored, choose
from autocnn.optimize.store import Store
from autocnn.optimize.trial import OK, Result, Trial


def _record(store, config_id, config, budget, loss, previous=None):
    evaluation_id = store.record_ask(Trial(config_id, config, budget, previous))
    store.record_tell(evaluation_id, Result(OK, loss=loss, seconds=1.0, cost=budget))


def test_a_weak_config_that_merely_finished_the_top_budget_is_not_chosen(tmp_path):
    default, weak = {"x": 0.0}, {"x": 1.0}
    with Store.open(tmp_path / "run.db", create=True, settings={}) as store:
        _record(store, 0, default, 1.0, 0.20)
        _record(store, 0, default, 3.0, 0.097, previous=1.0)  # stopped here by the time limit
        _record(store, 1, weak, 9.0, 0.146)  # a bracket that started at the top budget
        assert store.incumbent().config_id == 1  # HpBandSter's rule: what finished at 9
        robust = store.robust_incumbent()
    assert (robust.config_id, robust.budget, robust.loss) == (0, 3.0, 0.097)
    assert robust.config == default


def test_the_top_budget_wins_when_it_is_better():
    rows = [Scored(0, 1.0, 0.2, 0), Scored(0, 3.0, 0.1, 1), Scored(0, 9.0, 0.05, 2)]
    assert choose(rows) == rows[-1]
    assert choose(rows + [Scored(1, 9.0, 0.3, 3)]) == rows[-1]


def test_ties_and_empty():
    assert choose([]) is None
    assert choose([Scored(0, 1.0, float("nan"), 0)]) is None
    assert choose([Scored(3, 1.0, 0.1, 5), Scored(2, 1.0, 0.1, 4)]).config_id == 2
