"""The incumbent rule for time-limited searches (issue #13's case, built in a real store)."""

from __future__ import annotations

from autocnn.optimize.incumbent import (
    Scored,
    choose,
    flat_at_the_top,
    keep_reference_unless_beaten,
)
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


# seed 0 of the 30-minute fit (BENCHMARKS §9): the default (config 0) and the search's best
SEARCH = [
    Scored(0, 26.0, 0.0256, 1), Scored(7, 26.0, 0.0212, 8),
    Scored(0, 78.0, 0.0156, 13), Scored(7, 78.0, 0.0137, 11), Scored(7, 234.0, 0.0131, 15),
]  # fmt: skip


def _keep(rows, n_val=1600):
    return keep_reference_unless_beaten(rows, choose(rows), reference_id=0, n_val=n_val)


def test_the_default_is_kept_unless_beaten_by_more_than_validation_noise():
    assert choose(SEARCH).config_id == 7
    kept = _keep(SEARCH)  # 0.19 points at 78 s: 3 of 1,600 images
    assert (kept.config_id, kept.budget, kept.loss) == (0, 78.0, 0.0156)  # its largest budget
    # the same margin on 100 times as many validation images is evidence
    assert _keep(SEARCH, n_val=160_000).config_id == 7


def test_a_clear_margin_at_the_common_budget_wins():
    clear = [r._replace(loss=0.045) if r.evaluation_id == 13 else r for r in SEARCH]
    assert _keep(clear).config_id == 7
    # compared at the largest budget both ran: better at 26 s does not save the default
    early = [r._replace(loss=0.015) if r.evaluation_id == 1 else r for r in clear]
    assert _keep(early).config_id == 7


def test_without_a_common_budget_or_a_reference_the_rule_decides():
    alone = [r for r in SEARCH if r.config_id != 0 or r.budget > 100]  # the default never ran
    assert _keep(alone).config_id == 7
    only_default = [r for r in SEARCH if r.config_id == 0]
    assert _keep(only_default) == choose(only_default)
    assert keep_reference_unless_beaten([], None, reference_id=0, n_val=1600) is None


def test_the_search_is_flat_at_the_top_when_more_time_bought_less_than_the_noise():
    assert flat_at_the_top(SEARCH, n_val=1600)  # best 0.0137 at 78 s, 0.0131 at 234 s
    # the same drop on 100 times as many images is evidence that training longer still pays
    steep = [*SEARCH, Scored(3, 78.0, 0.030, 30), Scored(3, 234.0, 0.005, 31)]
    assert not flat_at_the_top([r for r in steep if r.config_id == 3], n_val=1600)
    assert not flat_at_the_top(SEARCH, n_val=1_600_000)
    assert not flat_at_the_top(SEARCH[:2], n_val=1600)  # one budget: no evidence
