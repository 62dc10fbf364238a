"""benchmarks/bench_build.py ends each scale's table with the performance issue's goals: each goal's
figure from the run and whether it is met, at the goal's own boundary."""

from __future__ import annotations

from benchmarks.bench_build import GOAL_SCALE, goal_lines, issue_goals

TODAY = {  # a scale-10 run of 2026-11-30
    "full_over_minimum": 19.6,
    "overhead_median_ms": 12.8,
    "dagster_over_direct": 1.05,
    "daily_over_full": (11.66 / 57.96, 11.41 / 57.96),
    "generation_s": 44.03,
}


def test_a_run_reads_as_its_figures_say() -> None:
    goals = issue_goals(**TODAY)
    assert [(g.measured, g.met) for g in goals] == [
        ("19.6 x", False),
        ("12.8 ms", True),
        ("1.05 x", True),
        ("20.1% | 19.7%", False),
        ("not measured here: tested by tests/integration/test_concurrent_refresh.py", None),
        ("44.03 s", True),
    ]


def _met(*figures: object) -> list[bool | None]:
    """The verdicts for figures given in TODAY's order."""
    return [g.met for g in issue_goals(**dict(zip(TODAY, figures, strict=True)))]


def test_each_goal_holds_at_its_boundary_and_not_beyond() -> None:
    assert _met(4.0, 25.0, 1.2, (0.2, 0.2), 179.9) == [True, True, True, True, None, True]
    # just past each boundary, as printed (4.1 x, 25.1 ms, 1.21 x, 20.1 %) and at 3 min
    assert _met(4.06, 25.06, 1.206, (0.2006, 0.19), 180.0) == [False] * 4 + [None, False]


def test_the_daily_goal_needs_both_the_first_and_the_next_daily_refreshes() -> None:
    for pair, met in (((0.19, 0.21), False), ((0.21, 0.19), False), ((0.19, 0.195), True)):
        daily = issue_goals(**{**TODAY, "daily_over_full": pair})[3]
        assert daily.met is met, pair


def test_the_printed_lines_name_the_scale_the_goals_are_stated_for() -> None:
    goals = issue_goals(**TODAY)
    lines = goal_lines(goals, GOAL_SCALE)
    assert lines[0] == "goals of the performance issue (stated for scale 10):"
    assert len(lines) == 1 + len(goals)
    assert lines[1].endswith("NOT MET") and lines[2].endswith("met")
    assert lines[5].endswith(
        "not measured here: tested by tests/integration/test_concurrent_refresh.py"
    )
    other = goal_lines(goals, 1.0)
    assert other[0] == "goals of the performance issue (stated for scale 10; this run: scale 1):"
    # one column for the figures, one for the verdicts
    assert len({line.rindex("  ") for line in lines[1:] if "not measured" not in line}) == 1


def test_the_test_named_for_readers_never_waiting_exists() -> None:
    from benchmarks.bench_build import CONCURRENT_REFRESH_TEST, REPO

    assert (REPO / CONCURRENT_REFRESH_TEST).is_file()
