"""Calendar helpers: the data window, ``core.dim_date`` and daily order-volume weights."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .reference import DIWALI, MONTH_FACTOR, WEEKDAY_FACTOR

WINDOW_MONTHS = 21
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # indexed by day of week, Monday = 0
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
EPOCH = np.datetime64("1970-01-01", "D")


def months_before(day: dt.date, months: int) -> dt.date:
    """``day`` moved back by ``months`` calendar months (day clamped to the target month's length)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    next_first = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_first - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last_day))


def window_start(end_date: dt.date) -> dt.date:
    """First order date: ``end_date`` minus 21 months."""
    return months_before(end_date, WINDOW_MONTHS)


def day_range(start: dt.date, end: dt.date) -> np.ndarray:
    """All days from ``start`` to ``end`` inclusive as ``datetime64[D]``."""
    return np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)


def dim_date(first_order: dt.date, end_date: dt.date) -> pd.DataFrame:
    """``core.dim_date`` rows: Jan 1 of (first order year - 1) to Dec 31 of the end date's year."""
    days = pd.DatetimeIndex(
        day_range(dt.date(first_order.year - 1, 1, 1), dt.date(end_date.year, 12, 31))
    )
    return pd.DataFrame(
        {
            "date_key": days,
            "day": days.day,
            "month": days.month,
            "year": days.year,
            "quarter": days.quarter,
            "day_name": np.asarray(DAY_NAMES)[days.day_of_week],
            "month_name": np.asarray(MONTH_NAMES)[days.month - 1],
        }
    )


def diwali(year: int) -> dt.date:
    """Diwali's date in ``year`` (Nov 1 for years outside the table)."""
    month, day = DIWALI.get(year, (11, 1))
    return dt.date(year, month, day)


def festive_boost(days: np.ndarray) -> np.ndarray:
    """Multiplicative festival effect per day: Diwali run-up, Christmas/New Year, summer sales."""
    idx = pd.DatetimeIndex(days)
    boost = np.ones(len(days))
    for year in range(int(idx.year.min()) - 1, int(idx.year.max()) + 2):
        centre = np.datetime64(diwali(year), "D") - 3  # Dhanteras and the days before Diwali peak
        delta = (days - centre).astype(np.int64)
        boost += 1.6 * np.exp(-((delta / 8.0) ** 2))
        xmas = (days - np.datetime64(dt.date(year, 12, 26), "D")).astype(np.int64)
        boost += 0.35 * np.exp(-((xmas / 6.0) ** 2))
        summer = (days - np.datetime64(dt.date(year, 5, 20), "D")).astype(np.int64)
        boost += 0.15 * np.exp(-((summer / 15.0) ** 2))
    return boost


def daily_weights(days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Relative order volume per day: growth x month x weekday x festivals x noise (sums to 1)."""
    idx = pd.DatetimeIndex(days)
    t = np.linspace(0.0, 1.0, len(days))
    growth = np.exp(0.28 * t)  # ~32% growth across the window
    month = np.asarray(MONTH_FACTOR)[idx.month - 1]
    weekday = np.asarray(WEEKDAY_FACTOR)[idx.day_of_week]
    noise = rng.lognormal(0.0, 0.08, len(days))
    w = growth * month * weekday * festive_boost(days) * noise
    return w / w.sum()


def month_starts(start: dt.date, end: dt.date) -> np.ndarray:
    """First day of every calendar month that intersects ``start..end`` (datetime64[D])."""
    first = np.datetime64(start, "M")
    last = np.datetime64(end, "M")
    return np.arange(first, last + 1).astype("datetime64[D]")


def to_date(day: np.datetime64) -> dt.date:
    """A ``datetime64[D]`` as ``datetime.date``."""
    return dt.date.fromisoformat(str(np.datetime64(day, "D")))
