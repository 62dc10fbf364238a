"""``retailmart``: the small command line around the Dagster project.

  retailmart run [--scale S] [--seed N] [--end-date D] [--regenerate]   the main job, end to end
  retailmart db start|stop|status|url                                   the embedded PostgreSQL server
  retailmart generate --scale S --seed N [--end-date D] [--defects]     write the sample data
  retailmart load DIR                                                   load DIR/<schema>/<table>.csv
  retailmart dashboard [--port P]                                       serve dashboard/ on 127.0.0.1
  retailmart dev [DAGSTER DEV OPTIONS]                                  the Dagster UI and daemon

Errors a user can cause are printed as one line on stderr with exit code 2 (usage) or 1 (failure).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import http.server
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from retailmart_dagster.resources.embedded import EmbeddedPostgres, EmbeddedServerError


class CliError(Exception):
    """An error to print as one line, without a traceback."""


class OneLineParser(argparse.ArgumentParser):
    """Usage errors (unknown option, bad value, missing argument) as ONE line on stderr, exit 2."""

    def error(self, message: str) -> NoReturn:
        first = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {first} (see `{self.prog} --help`)\n")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _scale(value: str) -> float:
    try:
        scale = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from exc
    if not 0.001 <= scale <= 100:
        raise argparse.ArgumentTypeError(f"scale must be between 0.001 and 100, got {value}")
    return scale


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from exc
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {value}")
    return port


# --------------------------------------------------------------------------- db
def cmd_db(args: argparse.Namespace) -> int:
    server = EmbeddedPostgres()
    if args.action == "start":
        state = server.start()
        print(
            f"PostgreSQL {state.version} running on 127.0.0.1:{state.port} (data: {state.data_dir})"
        )
    elif args.action == "stop":
        print("stopped" if server.stop() else "not running")
    elif args.action == "status":
        status = server.status()
        print(json.dumps(status, indent=2))
        return 0 if status["running"] else 3
    elif args.action == "url":
        print(server.url(args.database))
    return 0


# --------------------------------------------------------------------- generate
def _source_connection():  # noqa: ANN202 - psycopg connection
    from retailmart_dagster.resources.postgres import connect
    from retailmart_dagster.runtime import prepare_environment

    env = prepare_environment()
    return env, connect(env.database_url)


def cmd_generate(args: argparse.Namespace) -> int:
    from retailmart_dagster.generate import generate

    env, conn = _source_connection()
    with conn:
        started = time.perf_counter()
        result = generate(
            conn, scale=args.scale, seed=args.seed, end_date=args.end_date, defects=args.defects
        )
    total = sum(result.row_counts.values())
    print(
        f"Generated {total:,} rows in {len(result.row_counts)} tables into {env.masked_url} "
        f"in {time.perf_counter() - started:.1f}s (scale {args.scale}, seed {args.seed})"
    )
    for table, defect, count in result.injected:
        print(f"  injected defect: {table}: {defect} x{count}")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    folder = Path(args.directory)
    if not folder.is_dir():
        raise CliError(f"{folder}: not a folder (expected DIR/<schema>/<table>.csv)")
    from retailmart_dagster.loader import LoadError, load_dir

    env, conn = _source_connection()
    with conn:
        try:
            counts = load_dir(conn, folder)
        except LoadError as exc:
            raise CliError(str(exc)) from None
    print(f"Loaded {sum(counts.values()):,} rows from {len(counts)} files into {env.masked_url}")
    return 0


# -------------------------------------------------------------------------- run
def _has_source_data(url: str) -> bool:
    from retailmart_dagster.resources.postgres import connect

    with connect(url) as conn:
        row = conn.execute("SELECT to_regclass('sales.orders') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return False
        count = conn.execute("SELECT EXISTS (SELECT 1 FROM sales.orders)").fetchone()
        return bool(count and count[0])


def run_full_refresh(dashboard_dir: Path | None = None) -> tuple[bool, list[str]]:
    """Run the main job through Dagster with the configured instance: (success, failure lines)."""
    from dagster import DagsterInstance

    from retailmart_dagster.definitions import FULL_REFRESH_JOB, build_definitions
    from retailmart_dagster.executor import run_job

    defs = build_definitions(dashboard_dir=str(dashboard_dir) if dashboard_dir else None)
    job = defs.resolve_job_def(FULL_REFRESH_JOB)
    with DagsterInstance.get() as instance:
        result = run_job(job, instance=instance, raise_on_error=False)
    return result.success, failure_lines(result)


def _root_cause_line(error) -> str:  # noqa: ANN001 - dagster SerializableErrorInfo
    """One line for a step failure: the database being unreachable wins over Dagster's own wrapper
    ("Exceeded max_retries of 2"), otherwise the deepest cause's first line."""
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause or error.context
    for info in chain:
        if info.cls_name == "DatabaseUnreachableError":
            return info.message.strip().splitlines()[0]
    for info in reversed(chain):
        lines = (info.message or "").strip().splitlines()
        if lines:
            return lines[0]
    return "failed"


def failure_lines(result) -> list[str]:  # noqa: ANN001 - dagster ExecuteInProcessResult
    """``<step>: <one line>`` for every failed step of a run."""
    from retailmart_dagster.resources.postgres import mask_urls

    failures = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            line = _root_cause_line(error) if error else "failed"
            failures.append(f"{event.step_key}: {mask_urls(line)}")
    return failures


def cmd_run(args: argparse.Namespace) -> int:
    from retailmart_dagster.generate import generate
    from retailmart_dagster.resources.dashboard import default_data_dir
    from retailmart_dagster.resources.postgres import connect
    from retailmart_dagster.runtime import prepare_environment

    started = time.perf_counter()
    env = prepare_environment()
    print(
        f"Database: {env.masked_url} ({'embedded' if env.embedded else 'RETAILMART_DATABASE_URL'})"
    )
    if args.regenerate or not _has_source_data(env.database_url):
        if not env.embedded and not args.regenerate:
            raise CliError(
                f"{env.masked_url} has no RetailMart data (sales.orders is missing or empty); "
                "load it with `retailmart load DIR`, or pass --regenerate to write sample data there"
            )
        with connect(env.database_url) as conn:
            result = generate(conn, scale=args.scale, seed=args.seed, end_date=args.end_date)
        print(f"Sample data: {sum(result.row_counts.values()):,} rows (scale {args.scale})")
    ok, failures = run_full_refresh()
    data_dir = Path(default_data_dir()).resolve()
    if not ok:
        print(
            f"The full refresh FAILED after {time.perf_counter() - started:.0f}s:",
            *(f"  {line}" for line in failures),
            "See the run in the Dagster UI (command below) or the log above.",
            sep="\n",
            file=sys.stderr,
        )
    else:
        print(f"Full refresh done in {time.perf_counter() - started:.0f}s.")
    print(f"Dashboard JSON:  {data_dir}")
    print("Dagster UI:      .venv/bin/retailmart dev")
    print("Dashboard:       .venv/bin/retailmart dashboard")
    if env.embedded:
        print("Database stop:   .venv/bin/retailmart db stop  (the server keeps running for reuse)")
    return 0 if ok else 1


# ------------------------------------------------------------------------- docs
def cmd_docs(args: argparse.Namespace) -> int:
    from retailmart_dagster.docs import stale_docs, write_docs
    from retailmart_dagster.resources.postgres import connect
    from retailmart_dagster.runtime import prepare_environment

    env = prepare_environment()
    with connect(env.database_url) as conn:
        built = conn.execute("SELECT to_regclass('analytics.kpi_metadata') IS NOT NULL").fetchone()
        if not built or not built[0]:
            raise CliError(
                f"{env.masked_url} has no analytics objects yet: run `retailmart run` first "
                "(the data dictionary reads each object's columns from the database)"
            )
        if args.check:
            stale = stale_docs(conn)
            if stale:
                raise CliError(f"stale docs: {', '.join(stale)} (run `retailmart docs`)")
            print("docs are up to date")
            return 0
        for path in write_docs(conn):
            print(f"wrote {path}")
    return 0


# -------------------------------------------------------------------------- dev
DEV_MODULE = "retailmart_dagster.definitions"


def dagster_dev_command(extra: Sequence[str]) -> list[str]:
    """``dagster dev`` on the project's definitions, with the user's extra options."""
    venv_dagster = Path(sys.executable).parent / "dagster"
    dagster = str(venv_dagster) if venv_dagster.exists() else "dagster"
    extra = list(extra)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    return [dagster, "dev", "-m", DEV_MODULE, *extra]


def cmd_dev(args: argparse.Namespace) -> int:
    """``dagster dev`` with the environment that ``retailmart run`` uses: the database (embedded or
    RETAILMART_DATABASE_URL), DAGSTER_HOME on PostgreSQL, and the storage password that dagster.yaml
    reads from RETAILMART_DAGSTER_PG_PASSWORD (so the instance config the UI shows holds no secret)."""
    from retailmart_dagster.runtime import prepare_environment

    env = prepare_environment()
    command = dagster_dev_command(args.extra)
    print(f"Database: {env.masked_url}; DAGSTER_HOME={env.dagster_home}", flush=True)
    print("Running: " + " ".join(command[1:]), flush=True)
    os.execvp(command[0], command)  # replaces this process (signals reach dagster dev directly)
    return 0  # not reached


# -------------------------------------------------------------------- dashboard
DASHBOARD_MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".map": "application/json",
}


def dashboard_handler(
    root: Path, data_dir: Path
) -> Callable[..., http.server.BaseHTTPRequestHandler]:
    """Request handler for the dashboard: static files from ``root``, ``/data/*`` from ``data_dir``
    (the JSON exports, wherever $RETAILMART_DASHBOARD_DIR puts them). Read only (GET/HEAD)."""

    class DashboardHandler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {
            **http.server.SimpleHTTPRequestHandler.extensions_map,
            **DASHBOARD_MIME_TYPES,
        }

        def translate_path(self, path: str) -> str:
            bare = path.split("?", 1)[0].split("#", 1)[0]
            if bare == "/data" or bare.startswith("/data/"):
                # The parent class drops "..", "." and drive parts, so nothing escapes data_dir.
                saved, self.directory = self.directory, str(data_dir)
                try:
                    return super().translate_path(bare[len("/data") :] or "/")
                finally:
                    self.directory = saved
            return super().translate_path(path)

        def end_headers(self) -> None:
            # The page decides what to reload from manifest.json; the browser must not guess.
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Content-Type-Options", "nosniff")
            super().end_headers()

        def log_message(self, fmt: str, *args: object) -> None:
            if not getattr(self.server, "quiet", False):
                super().log_message(fmt, *args)

    return functools.partial(DashboardHandler, directory=str(root))


def cmd_dashboard(args: argparse.Namespace) -> int:
    import os

    from retailmart_dagster.resources.dashboard import DASHBOARD_DIR_ENV

    root = Path(args.directory).resolve()
    if not (root / "index.html").exists():
        raise CliError(f"{root}: no dashboard here (expected index.html; pass --directory)")
    data_dir = Path(args.data or os.environ.get(DASHBOARD_DIR_ENV) or root / "data").resolve()
    if not (data_dir / "manifest.json").exists():
        print(
            f"warning: {data_dir}/manifest.json does not exist yet: run `retailmart run` "
            "(bash scripts/run.sh) to write the data; the page says so until then",
            file=sys.stderr,
        )
    if not (root / "node_modules" / "chart.js" / "dist" / "chart.umd.js").exists():
        print(
            f"warning: Chart.js is not installed in {root}/node_modules: run `npm ci` there "
            "(bash scripts/bootstrap.sh does it); the page shows figures and tables without charts",
            file=sys.stderr,
        )
    try:
        httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", args.port), dashboard_handler(root, data_dir)
        )
    except OSError as exc:
        raise CliError(
            f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); pick another --port"
        ) from None
    httpd.quiet = args.quiet  # type: ignore[attr-defined]

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM (a service manager, `docker stop`, `kill`) stops the server as Ctrl-C does, even when
    # the parent started this process with SIGTERM ignored (a disposition that exec keeps).
    signal.signal(signal.SIGTERM, stop)
    with httpd:
        print(f"Dashboard: http://127.0.0.1:{httpd.server_address[1]}/", flush=True)
        print(f"  serving {root} with data from {data_dir} (Ctrl-C to stop)", flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


# ------------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="retailmart", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="the main job: database, sample data, full refresh, JSON")
    run.add_argument("--scale", type=_scale, default=0.1, help="sample data scale (default 0.1)")
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--end-date", type=_date, default=None, help="last order day (default today)")
    run.add_argument(
        "--regenerate", action="store_true", help="write sample data even if data exists"
    )
    run.set_defaults(func=cmd_run)

    db = sub.add_parser("db", help="the embedded PostgreSQL server")
    db.add_argument("action", choices=["start", "stop", "status", "url"])
    db.add_argument("--database", default="retailmart", help="database name for `url`")
    db.set_defaults(func=cmd_db)

    gen = sub.add_parser("generate", help="write deterministic RetailMart sample data")
    gen.add_argument("--scale", type=_scale, default=1.0)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--end-date", type=_date, default=None, help="last order day (default today)")
    gen.add_argument("--defects", action="store_true", help="inject known data-quality defects")
    gen.set_defaults(func=cmd_generate)

    load = sub.add_parser("load", help="load DIR/<schema>/<table>.csv files (one transaction)")
    load.add_argument("directory")
    load.set_defaults(func=cmd_load)

    docs = sub.add_parser("docs", help="write docs/data_dictionary.md and docs/kpi_definitions.md")
    docs.add_argument("--check", action="store_true", help="fail if the committed docs are stale")
    docs.set_defaults(func=cmd_docs)

    dash = sub.add_parser("dashboard", help="serve the dashboard on 127.0.0.1")
    dash.add_argument("--port", type=_port, default=8050, help="port (default 8050; 0 = any free)")
    dash.add_argument("--directory", default="dashboard", help="the dashboard folder")
    dash.add_argument(
        "--data",
        default=None,
        help="the JSON folder (default $RETAILMART_DASHBOARD_DIR or DIR/data)",
    )
    dash.add_argument("--quiet", action="store_true", help="do not log each request")
    dash.set_defaults(func=cmd_dashboard)

    dev = sub.add_parser(
        "dev",
        help="the Dagster UI and daemon (`dagster dev -m retailmart_dagster.definitions`); "
        "other options go to dagster dev, e.g. `retailmart dev -p 3001`",
    )
    dev.set_defaults(func=cmd_dev)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "dev":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    func: Callable[[argparse.Namespace], int] = args.func
    if getattr(args, "end_date", "missing") is None:
        args.end_date = dt.date.today()
    try:
        return func(args)
    except (CliError, EmbeddedServerError) as exc:
        print(f"retailmart: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a clear line first; the details follow for the curious
        from retailmart_dagster.resources.postgres import DatabaseUnreachableError

        if isinstance(exc, DatabaseUnreachableError):
            print(f"retailmart: error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
