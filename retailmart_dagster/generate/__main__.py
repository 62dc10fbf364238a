"""``python -m retailmart_dagster.generate --url URL --scale S --seed N [--end-date D] [--defects]``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import psycopg

from .core import generate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    p = argparse.ArgumentParser(
        prog="python -m retailmart_dagster.generate",
        description="(Re)create the RetailMart source schemas and fill them with sample data.",
    )
    p.add_argument("--url", required=True, help="PostgreSQL URL of the target database")
    p.add_argument("--scale", type=float, default=1.0, help="1 = the course data set (default 1)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument(
        "--end-date",
        type=dt.date.fromisoformat,
        default=None,
        help="last order date, YYYY-MM-DD (default: today)",
    )
    p.add_argument("--defects", action="store_true", help="inject known data defects")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the generator and print row counts, injected defects and timings."""
    args = parse_args(argv)
    with psycopg.connect(args.url) as conn:
        result = generate(
            conn, scale=args.scale, seed=args.seed, end_date=args.end_date, defects=args.defects
        )
    for table, n in result.row_counts.items():
        print(f"{table:32} {n:>10,}")
    for table, defect, n in result.injected:
        print(f"defect {table}.{defect}: {n}")
    print(f"built in {result.seconds['build']:.1f}s, loaded in {result.seconds['load']:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
