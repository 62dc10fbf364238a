"""benchmarks/bench_build.py reports the machine's CPU during a run: busy and idle seconds over all
cores from /proc/stat, and how much of the busy time was the benchmark's own Python process."""

from __future__ import annotations

import os
import sys

import pytest

from benchmarks.bench_build import (
    DagsterRun,
    MachineCpu,
    cpu_use,
    full_build_denominator,
    machine_cpu,
)

STAT = "cpu  1000 50 250 7000 100 10 40 0 30 0\ncpu0 500 25 125 3500 50 5 20 0 15 0\n"


def test_busy_and_idle_come_from_the_first_line_in_clock_ticks() -> None:
    hz = os.sysconf("SC_CLK_TCK")
    found = machine_cpu(STAT)
    assert found is not None
    # busy: user + nice + system + irq + softirq + steal (guest is already in user);
    # idle: idle + iowait
    assert found.busy == pytest.approx((1000 + 50 + 250 + 10 + 40 + 0) / hz)
    assert found.idle == pytest.approx((7000 + 100) / hz)
    assert found.capacity == pytest.approx(found.busy + found.idle)


def test_an_interval_is_the_difference_of_two_readings() -> None:
    interval = MachineCpu(busy=30.0, idle=5.0) - MachineCpu(busy=2.0, idle=1.0)
    assert interval == MachineCpu(28.0, 4.0)
    assert interval.capacity == 32.0


def test_no_reading_without_a_cpu_line() -> None:
    assert machine_cpu("intr 1 2 3\n") is None
    assert machine_cpu("cpu 1 2\n") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_this_machine_counts_up_while_it_works() -> None:
    before = machine_cpu()
    sum(i * i for i in range(2_000_000))  # some busy time
    after = machine_cpu()
    assert before is not None and after is not None
    interval = after - before
    assert interval.busy > 0
    assert interval.idle >= 0


def test_the_report_splits_busy_time_into_python_and_the_rest() -> None:
    run = DagsterRun(15.0, {}, {}, {}, cpu=3.5, machine=MachineCpu(busy=27.0, idle=3.0))
    text = cpu_use(run)
    assert text.split()[0] == "27.00"
    assert "of 30.00 s (90%)" in text
    assert "Python 3.50 s" in text
    assert "server and the rest 23.50 s" in text
    assert cpu_use(run._replace(machine=None)) == "n/a (no /proc/stat)"


def test_the_daily_ratio_is_over_the_faster_of_two_full_builds() -> None:
    slow = DagsterRun(72.9, {}, {}, {}, cpu=4.3, machine=MachineCpu(busy=128.0, idle=17.0))
    fast = DagsterRun(61.0, {}, {}, {}, cpu=3.3, machine=MachineCpu(busy=110.0, idle=12.0))
    # Either order: the run is the faster one, machine CPU included (the busy ratio uses its CPU).
    assert full_build_denominator(slow, fast) is fast
    assert full_build_denominator(fast, slow) is fast
    assert full_build_denominator(fast, fast._replace(cpu=9.9)) is fast  # a tie: the first
