"""Scale: workers stay busy, every evaluation is accounted for, overhead stays flat.

The full-size numbers (10,000 evaluations, 32 workers, 100,000 store rows) come from
``benchmarks/simulate.py``; these are its fast versions.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import numpy as np
import pytest

from autocnn.optimize.backends import ProcessBackend
from autocnn.optimize.methods import make_optimizer
from autocnn.optimize.runner import run_optimizer
from autocnn.optimize.store import Store
from autocnn.optimize.synthetic import SyntheticObjective, simulate_parallel
from autocnn.optimize.trial import Trial
from autocnn.space import default_config, get_space


@pytest.fixture(scope="module")
def space():
    return get_space("seed")


def _overlapping(history):
    """Pairs of evaluations that ran at the same time with the same config at the same budget."""
    clashes = []
    ordered = sorted(history, key=lambda e: e.start)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.start >= a.end:
                break
            if a.trial.config == b.trial.config and a.trial.budget == b.trial.budget:
                clashes.append((a.trial.config_id, b.trial.config_id))
    return clashes


def test_32_simulated_workers_are_never_left_idle_by_the_scheduler(space):
    # While brackets wait on running evaluations BOHB opens new ones, so with a free optimizer
    # (no overhead) every worker is busy until the last ask, and nothing is asked twice.
    optimizer = make_optimizer("bohb", space, min_budget=1, max_budget=9, seed=0)
    objective = SyntheticObjective(space, 9, seed=0)
    history = simulate_parallel(optimizer, objective, 32, seconds_per_budget=1.0, max_time=40)
    last_start = max(e.start for e in history)
    busy = sum(max(0.0, min(e.end, last_start) - e.start) for e in history)
    assert busy / (32 * last_start) >= 0.99
    assert len(history) == optimizer.n_asked == optimizer.n_told and optimizer.n_pending == 0
    assert {e.worker for e in history} == set(range(32))
    assert not _overlapping(history)
    # the model (constant liar) spreads new configs: none of them is a copy of another
    new = [tuple(sorted(e.trial.config.items())) for e in history if e.trial.stage == 0]
    assert len(set(new)) == len(new)
    assert optimizer.stats["model_based"] > 50  # the model was at work, not just random search


def test_the_virtual_clock_charges_overhead_to_the_main_loop(space):
    def utilisation(overhead):
        optimizer = make_optimizer("hyperband", space, min_budget=1, max_budget=9, seed=1)
        history = simulate_parallel(
            optimizer, SyntheticObjective(space, 9), 8, max_time=30, overhead=overhead
        )
        end = max(e.end for e in history)
        return sum(e.end - e.start for e in history) / (8 * end), len(history)

    free, n_free = utilisation(0.0)
    slow, n_slow = utilisation(0.5)  # 0.5 s per ask and per tell: a bottleneck for 8 workers
    assert n_slow <= 30 / (2 * 0.5) + 8 < n_free  # one evaluation per second, plus the drain
    assert slow < free - 0.2


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="needs forkserver"
)
def test_8_worker_processes_stay_busy_and_every_evaluation_is_recorded(space, tmp_path):
    # forkserver with the objective's modules preloaded: 8 spawned interpreters would each
    # import numpy + ConfigSpace (~1.5 s of CPU apiece)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["autocnn.optimize.synthetic", "autocnn.optimize.backends"])
    objective = SyntheticObjective(space, 9, seed=0, sleep_per_budget=0.05)
    optimizer = make_optimizer("bohb", space, min_budget=1, max_budget=9, seed=0)
    with ProcessBackend(objective, 8, start_method="forkserver") as backend:
        for i in range(8):  # warm-up: start-up is not part of the measurement
            backend.submit(Trial(-1 - i, default_config("seed"), 0.0), tmp_path / "warm")
        answered = 0
        while answered < 8:
            answered += len(backend.wait())
        started = time.time()
        summary = run_optimizer(
            optimizer, objective, tmp_path / "run", workers=8, time_limit=4.0, backend=backend
        )
    with Store.open(tmp_path / "run", readonly=True) as store:
        rows = store.evaluations()
        events = store.events()
    asks = [e for e in events if e.kind == "ask" and e.evaluation_id is not None]
    tells = [e for e in events if e.kind == "tell"]
    assert len(rows) == len(asks) == len(tells) == optimizer.n_asked == optimizer.n_told
    assert summary.n_evaluations == len(rows) > 8 * 4 / (9 * 0.05)  # more than one round
    assert all(row.status == "ok" for row in rows)  # none pending, none lost or crashed
    assert len({(row.config_id, row.budget) for row in rows}) == len(rows)
    assert {row.worker for row in rows} == {f"worker-{i}" for i in range(8)}
    last_ask = max(row.submitted for row in rows)
    busy = sum(
        max(0.0, min(row.finished, last_ask) - max(row.finished - row.seconds, started))
        for row in rows
    )
    # >= 95 % in the benchmark. Here other tests share the 2 cores, so the bound is the logic's,
    # not this machine's speed: a runner that waited for a whole round of 8 before asking again
    # (evaluations take 0.05-0.45 s) would keep them busy well under half of the time.
    assert busy / (8 * (last_ask - started)) >= 0.5


def test_ask_and_tell_stay_cheap_with_thousands_of_results(space):
    def ask_ms(n_results: int, repeats: int = 40) -> float:
        optimizer = make_optimizer("bohb", space, min_budget=1, max_budget=9, seed=0)
        objective = SyntheticObjective(space, 9, seed=0)
        vectors = optimizer.encoding.sample_prior(n_results, np.random.RandomState(0))
        for i, vector in enumerate(vectors):  # results on every budget, most on the smallest
            config = optimizer.encoding.decode(vector, snapped=True)
            budget = (1.0, 1.0, 1.0, 3.0, 9.0)[i % 5]
            optimizer.observe(config, budget, objective.loss(config, budget))
        optimizer.random_fraction = 0.0  # time the model's proposals only
        pending = [optimizer.ask() for _ in range(8)]  # the constant liar at work, too
        start = time.process_time()
        for _ in range(repeats):
            trial = optimizer.ask()
            optimizer.tell(trial, objective.result(trial))
        assert optimizer.stats["model_based"] >= repeats // 2 and len(pending) == 8
        return 1000 * (time.process_time() - start) / repeats

    small, large = ask_ms(200), ask_ms(4000)
    assert large < 100  # CPU time: about 3-4 ms here (a model using all 4000 results: far more)
    assert large < 4 * small  # flat (~1.6x here): the model keeps at most 256 results per budget


def test_incumbent_and_status_queries_use_indexes(tmp_path):
    with Store.open(tmp_path, create=True, settings={}) as store:
        plan = " ".join(
            str(row)
            for row in store._db.execute(
                "EXPLAIN QUERY PLAN SELECT e.config_id FROM evaluations e JOIN configs c "
                "USING (config_id) WHERE e.status = 'ok' "
                "ORDER BY e.budget DESC, e.loss ASC, e.id ASC LIMIT 1"
            )
        )
        assert "evaluations_ranking" in plan and "TEMP B-TREE" not in plan


def test_a_store_from_before_the_indexes_gets_them_when_opened_for_writing(tmp_path):
    path = Path(tmp_path) / "run.db"
    with Store.open(path, create=True, settings={}) as store:
        store._db.execute("DROP INDEX evaluations_ranking")
    with Store.open(path, readonly=True) as store:  # read-only: works, leaves the file alone
        assert store.incumbent() is None
    with Store.open(path) as store:
        names = {row[0] for row in store._db.execute("SELECT name FROM sqlite_master")}
    assert "evaluations_ranking" in names
