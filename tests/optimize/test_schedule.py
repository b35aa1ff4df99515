"""Budget schedules against hand-derived tables (Li et al.'s Hyperband; HpBandSter 0.7.4)."""

from __future__ import annotations

import pytest

from autocnn.errors import ConfigError
from autocnn.optimize.schedule import Bracket, make_schedule


def table(schedule):
    return [(b.n_configs, b.budgets) for b in schedule.cycle()]


def test_paper_eta3_budgets_1_to_9_matches_the_bohb_paper():
    schedule = make_schedule("paper", 1, 9, eta=3)
    assert table(schedule) == [
        ([9, 3, 1], [1.0, 3.0, 9.0]),
        ([5, 1], [3.0, 9.0]),
        ([3], [9.0]),
    ]
    assert sum(sum(b.n_configs) for b in schedule.cycle()) == 22
    assert schedule.warnings == []


def test_paper_eta2_budgets_1_to_16():
    # s_max = 4; n = ceil(5 / (s + 1) * 2**s)
    assert table(make_schedule("paper", 1, 16, eta=2)) == [
        ([16, 8, 4, 2, 1], [1.0, 2.0, 4.0, 8.0, 16.0]),
        ([10, 5, 2, 1], [2.0, 4.0, 8.0, 16.0]),
        ([7, 3, 1], [4.0, 8.0, 16.0]),
        ([5, 2], [8.0, 16.0]),
        ([5], [16.0]),
    ]


def test_brackets_cycle_and_carry_their_iteration_index():
    schedule = make_schedule("paper", 1, 9, eta=3)
    assert schedule.brackets(4) == Bracket(index=4, n_configs=[5, 1], budgets=[3.0, 9.0])
    assert schedule.brackets(6).n_configs == [9, 3, 1]


@pytest.mark.parametrize(
    ("low", "high", "eta", "expected"),
    [
        (1, 9, 3, [([9, 3, 1], [1, 3, 9]), ([3, 1], [3, 9]), ([3], [9])]),
        (
            1,
            27,
            3,
            [
                ([27, 9, 3, 1], [1, 3, 9, 27]),
                ([9, 3, 1], [3, 9, 27]),
                ([6, 2], [9, 27]),
                ([4], [27]),
            ],
        ),
        # the seed project's settings
        (
            1,
            16,
            2,
            [
                ([16, 8, 4, 2, 1], [1, 2, 4, 8, 16]),
                ([8, 4, 2, 1], [2, 4, 8, 16]),
                ([4, 2, 1], [4, 8, 16]),
                ([4, 2], [8, 16]),
                ([5], [16]),
            ],
        ),
        (1, 16, 4, [([16, 4, 1], [1, 4, 16]), ([4, 1], [4, 16]), ([3], [16])]),
    ],
)
def test_hpbandster_schedule_reproduces_hpbandster(low, high, eta, expected):
    schedule = make_schedule("hpbandster", low, high, eta=eta)
    got = table(schedule)
    assert [n for n, _ in got] == [n for n, _ in expected]
    for (_, budgets), (_, want) in zip(got, expected, strict=True):
        assert budgets == pytest.approx([float(b) for b in want])
    assert schedule.warnings == []


def test_hpbandster_grid_is_anchored_at_max_and_warns_when_min_is_raised():
    schedule = make_schedule("hpbandster", 3, 10, eta=2)
    assert table(schedule) == [([2, 1], [5.0, 10.0]), ([2], [10.0])]
    assert len(schedule.warnings) == 1
    assert "5" in schedule.warnings[0] and "min_budget=3" in schedule.warnings[0]


def test_random_schedule_evaluates_everything_at_max_budget():
    schedule = make_schedule("random", 1, 9, eta=3)
    for i in range(5):
        bracket = schedule.brackets(i)
        assert bracket.budgets == [9.0]
        assert bracket.n_configs == [3]  # s_max + 1: about one Hyperband bracket's budget
        assert bracket.index == i


@pytest.mark.parametrize(
    ("name", "low", "high", "eta"),
    [("paper", 0, 9, 3), ("paper", 9, 1, 3), ("paper", 1, 9, 1), ("nope", 1, 9, 3)],
)
def test_bad_settings_raise_config_error(name, low, high, eta):
    with pytest.raises(ConfigError):
        make_schedule(name, low, high, eta=eta)
