"""Fact-table upkeep: one asset, after every fact, that VACUUMs the facts whose visibility map a
load left mostly unset.

A fact's first load is committed synchronously and followed at once by ``VACUUM (ANALYZE)``
(``SqlBuilder.build``): its statistics and hint bits are needed by the objects built on it next.
That VACUUM can rarely set the visibility map, though: a page is marked all-visible only when its
rows are visible to every transaction still running, and the run's other step is usually running a
statement that began before the load committed. (Before the loads committed synchronously, the
VACUUM could not even set the hint bits, see :func:`wait_for_wal_flush`: at scale 10 after a full
build, every fact but the three smallest had 0 all-visible pages.) The VACUUM also resets the
table's count of rows inserted since its last vacuum, so autovacuum does not come back before
another fifth of the table is inserted (months of daily loads). Without the map, every index-only
scan on a fact reads the heap as well: fact_orders' comparison of its older order lines made 1.4 M
heap fetches on each daily refresh.

This asset runs after every fact. It VACUUMs (without ANALYZE: the loads keep the statistics, see
``SqlBuilder._analyze_if_stale``) each fact whose all-visible pages are fewer than
``runtime.fact_vacuum_below_visible_share`` of its pages. A fact whose pages are still not marked
(rows whose commit is not flushed yet, or that a transaction older than this step may not see) is
vacuumed again after waiting (at most ``runtime.fact_vacuum_wait_s`` in all) until the WAL is
flushed and no other transaction of the database holds a snapshot taken before this step began,
that is, before the facts' loads were committed (:func:`vacuum_facts`). A daily refresh reloads a
few days of each fact and vacuums none or the two month facts (their reload touches most of their
pages); after a full build it vacuums them all."""

import time
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    RetryRequested,
    asset,
)
from psycopg import sql

from retailmart_dagster.assets.sql_assets import analytics_key
from retailmart_dagster.assets.sql_parse import ANALYTICS_SCHEMA, FACT_TABLE, SqlObject
from retailmart_dagster.config import ConfigError, config_value
from retailmart_dagster.resources.postgres import DatabaseUnreachableError, PostgresResource

FACT_VACUUM_KEY = AssetKey([ANALYTICS_SCHEMA, "fact_vacuum"])
FACT_GROUP = "facts"
WAIT_PAUSE_S = 0.05
VACUUM_ATTEMPTS = 3


@dataclass(frozen=True)
class Visibility:
    """The pages of one fact now, and its all-visible pages as counted by its last VACUUM or
    ANALYZE (pg_class.relallvisible; rows written since may have cleared some)."""

    pages: int
    all_visible: int

    @property
    def share(self) -> float:
        return 1.0 if self.pages == 0 else min(self.all_visible / self.pages, 1.0)


def vacuum_settings() -> tuple[float, float]:
    """runtime.fact_vacuum_below_visible_share and runtime.fact_vacuum_wait_s, validated."""
    share = float(config_value("runtime.fact_vacuum_below_visible_share"))
    wait_s = float(config_value("runtime.fact_vacuum_wait_s"))
    if not 0 <= share <= 1:
        raise ConfigError(
            f"analytics.toml: runtime.fact_vacuum_below_visible_share = {share}: expected a share"
            " from 0 to 1"
        )
    if wait_s < 0:
        raise ConfigError(f"analytics.toml: runtime.fact_vacuum_wait_s = {wait_s}: expected >= 0")
    return share, wait_s


def visibility(conn: psycopg.Connection, names: Sequence[str]) -> dict[str, Visibility]:
    """The visibility of each fact of names that exists."""
    rows = conn.execute(
        "SELECT c.relname, pg_relation_size(c.oid) / current_setting('block_size')::int,"
        " c.relallvisible FROM pg_catalog.pg_class AS c"
        " WHERE c.relnamespace = %s::regnamespace AND c.relname = ANY(%s) AND c.relkind = 'r'",
        (ANALYTICS_SCHEMA, list(names)),
    ).fetchall()
    return {name: Visibility(int(pages), int(visible)) for name, pages, visible in rows}


def older_snapshots(conn: psycopg.Connection, horizon: int) -> int:
    """How many other backends of this database hold a snapshot older than horizon (a
    transaction id, as pg_snapshot_xmax returns it), lazy VACUUMs excepted (VACUUM's own horizon
    ignores them; an autovacuum worker's ANALYZE counts). backend_xmin is shown for the sessions
    of the current role (and to members of pg_read_all_stats): others are not seen here."""
    # age(x) counts the transactions since x, so a snapshot older than the horizon has the greater
    # age; the horizon is an xid8 (it never wraps), backend_xmin a 32-bit xid.
    return int(
        conn.execute(
            """
            SELECT count(*)
              FROM pg_catalog.pg_stat_activity AS a
             WHERE a.datid = (SELECT oid FROM pg_catalog.pg_database
                               WHERE datname = current_database())
               AND a.pid <> pg_backend_pid()
               AND a.pid NOT IN (SELECT v.pid FROM pg_catalog.pg_stat_progress_vacuum AS v)
               AND a.backend_xmin IS NOT NULL
               AND age(a.backend_xmin) > age((%s::bigint %% 4294967296)::text::xid)
            """,
            (horizon,),
        ).fetchone()[0]
    )


def wait_for_wal_flush(conn: psycopg.Connection, timeout_s: float) -> float:
    """Wait (at most timeout_s) until the WAL written so far is flushed to disk; the seconds
    waited. VACUUM marks a page all-visible only when its rows carry the "committed" hint bit,
    and that bit may not be set on a row whose transaction committed asynchronously
    (synchronous_commit = off, as on the embedded server) until the WAL writer has flushed its
    commit record (within three wal_writer_delay, 0.6 s by default): a VACUUM right after such a
    commit left every page unmarked (30 of 30 tries on a table of 5000 rows, 0 of 30 when the
    load had committed synchronously). A transaction committed here to force the flush would not
    help: a transaction that wrote no WAL of its own commits asynchronously whatever its setting."""
    started = time.perf_counter()
    target = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
    flushed = "SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn"
    while not conn.execute(flushed, (target,)).fetchone()[0]:
        if time.perf_counter() - started >= timeout_s:
            break
        time.sleep(WAIT_PAUSE_S)
    return time.perf_counter() - started


def vacuum_facts(
    conn: psycopg.Connection, names: Sequence[str], below_share: float, wait_s: float
) -> dict:
    """VACUUM the facts of names whose all-visible share is below below_share; what it did.

    A fact still below the share after its VACUUM (rows whose commit is not flushed yet, or that a
    transaction older than this call may not see) is vacuumed again, at most VACUUM_ATTEMPTS times
    in all, each time after waiting (within wait_s from the start of the call) for the WAL flush
    (:func:`wait_for_wal_flush`) and until no other backend holds a snapshot older than this call
    (:func:`older_snapshots`; one not seen there, such as an autovacuum worker's catalog scan, is
    outwaited by the pause between attempts). The first VACUUM does not wait: on a daily refresh
    the facts due were loaded seconds before, and waiting for the WAL flush of the steps running
    meanwhile would make this step the run's last one for up to 0.6 s."""
    started = time.perf_counter()
    before = visibility(conn, names)
    conn.rollback()
    due = sorted(name for name, v in before.items() if v.pages and v.share < below_share)
    waited, left = 0.0, 0
    timings: dict[str, float] = {}
    if due:
        autocommit = conn.autocommit
        conn.autocommit = True
        try:
            horizon = int(
                conn.execute(
                    "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
                ).fetchone()[0]
            )
            for name in due:
                for attempt in range(1, VACUUM_ATTEMPTS + 1):
                    if attempt > 1:
                        wait_started = time.perf_counter()
                        time.sleep(WAIT_PAUSE_S)
                        wait_for_wal_flush(conn, wait_s - (time.perf_counter() - started))
                        while (left := older_snapshots(conn, horizon)) and (
                            time.perf_counter() - started < wait_s
                        ):
                            time.sleep(WAIT_PAUSE_S)
                        waited += time.perf_counter() - wait_started
                    vacuum_started = time.perf_counter()
                    conn.execute(
                        sql.SQL("VACUUM (SKIP_LOCKED) {}").format(
                            sql.Identifier(ANALYTICS_SCHEMA, name)
                        )
                    )
                    timings[name] = round(
                        timings.get(name, 0.0) + time.perf_counter() - vacuum_started, 3
                    )
                    done = visibility(conn, [name]).get(name)
                    if done is None or done.share >= below_share:
                        break
                    if time.perf_counter() - started >= wait_s:
                        break
        finally:
            conn.autocommit = autocommit
    after = visibility(conn, names)
    conn.rollback()
    return {
        "before": before,
        "after": after,
        "vacuumed": timings,
        "waited_s": round(waited, 3),
        "older_snapshots_left": left,
        "unmarked": [n for n in due if n in after and after[n].share < below_share],
    }


def fact_names(objects: Sequence[SqlObject]) -> list[str]:
    """The fact tables among objects, by name: what fact_vacuum looks after."""
    return sorted(o.name for o in objects if o.kind == FACT_TABLE)


def build_fact_vacuum_asset(objects: Sequence[SqlObject]) -> AssetsDefinition:
    facts = fact_names(objects)

    @asset(
        key=FACT_VACUUM_KEY,
        deps=[analytics_key(name) for name in facts],
        group_name=FACT_GROUP,
        kinds={"postgres", "python"},
        description=(
            "VACUUMs the fact tables whose visibility map is mostly unset (after their first load "
            "or a big reload), and again, after waiting for the WAL flush and for the transactions "
            "older than their loads, those whose pages stayed unmarked: scans of the facts then "
            "skip per-row visibility checks and index-only scans skip the heap. See "
            "retailmart_dagster/assets/fact_vacuum.py."
        ),
        tags={"retailmart/domain": FACT_GROUP},
    )
    def _fact_vacuum(
        context: AssetExecutionContext, postgres: PostgresResource
    ) -> MaterializeResult:
        below_share, wait_s = vacuum_settings()
        try:
            with postgres.connection() as conn:
                done = vacuum_facts(conn, facts, below_share, wait_s)
        except DatabaseUnreachableError as exc:
            context.log.error(str(exc))
            raise RetryRequested(max_retries=2, seconds_to_wait=2) from exc
        vacuumed = done["vacuumed"]
        if done["unmarked"]:
            context.log.warning(
                f"Still mostly not all-visible after VACUUM: {', '.join(done['unmarked'])}"
                f" ({done['older_snapshots_left']} transaction(s) older than the facts' loads"
                f" still running after {done['waited_s']} s, runtime.fact_vacuum_wait_s): pages"
                " such a transaction may not see cannot be marked; the next run tries again."
            )
        context.log.info(
            f"Vacuumed {len(vacuumed)} of {len(facts)} fact tables"
            + (f" ({', '.join(vacuumed)}) after waiting {done['waited_s']} s" if vacuumed else "")
        )
        shares = {
            name: {
                "pages": v.pages,
                "visible_share_before": round(done["before"][name].share, 3),
                "visible_share_after": round(v.share, 3),
                "vacuum_s": vacuumed.get(name),
            }
            for name, v in sorted(done["after"].items())
        }
        return MaterializeResult(
            metadata={
                "vacuumed": MetadataValue.int(len(vacuumed)),
                "waited_s": MetadataValue.float(float(done["waited_s"])),
                "older_snapshots_left": MetadataValue.int(done["older_snapshots_left"]),
                "still_unmarked": MetadataValue.int(len(done["unmarked"])),
                "facts": MetadataValue.json(shares),
            }
        )

    return _fact_vacuum
