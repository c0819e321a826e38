"""`python -m exq_core`: the command line over the same use cases the dashboard calls."""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from . import queries
from .errors import ExqError, FeedInvalid
from .models import Bucket, cli_actor
from .rules import load_rules
from .store import default_db_target, open_store, utcnow


@contextmanager
def progress_bar(desc: str, enabled: bool = True):
    """A tqdm bar on stderr driven by exq's (stage, fraction) progress callbacks."""
    from tqdm import tqdm
    bar = tqdm(total=100, desc=desc, unit="%", file=sys.stderr, disable=None if enabled else True, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")

    def tick(stage: str, fraction: float) -> None:
        bar.set_postfix_str(stage)
        bar.update(max(0, round(fraction * 100) - bar.n))

    try:
        yield tick
    finally:
        bar.close()


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value))


def cmd_init(args) -> int:
    with open_store(args.db) as store:
        print(f"{store.label}: schema version {store.schema_version()}")
        if args.recount:
            from .store import tallies
            with store.unit_of_work() as uow:
                tallies.recount(uow.cursor)
                uow.commit()
            print("The Overview's kept counts (store/tallies.py) were counted afresh.")
    return 0


def cmd_demo(args) -> int:
    """Seed the demo shop. An existing database is replaced only with --force, and only when it holds
    nothing but demo data; a team's own imports or decisions are never deleted without typing its name."""
    from .demo import seed_demo, wipe, what_is_there
    with open_store(args.db) as store:
        there = what_is_there(store)
        if there.has_orders:
            if not args.force:
                print(f"{store.label} already has orders ({there.describe()}); use --force to replace a demo "
                      "database with a fresh demo.", file=sys.stderr)
                return 2
            if not there.demo_only and not _confirmed(store.label, there, args.replace_real_data):
                return 2
            wipe(store)
    with open_store(args.db) as store, progress_bar("demo", not args.quiet) as tick:
        out = seed_demo(store, n=args.orders, seed=args.seed, progress=tick)
        label = store.label
    result = out["import"]
    print(f"{label}: {result.rows:,} demo orders, {result.routine:,} routine, {result.cases_new:,} cases "
          f"({', '.join(f'{b} {n}' for b, n in sorted(result.cases_new_by_bucket.items()))}), "
          f"{out['decisions']:,} decisions in the seeded history.")
    return 0


def _confirmed(label: str, there, answer: str | None) -> bool:
    """Replacing a database with a team's own data needs its name typed (or passed with
    --replace-real-data NAME when there is no terminal)."""
    print(f"{label} holds more than demo data: {there.describe()}. Replacing it with a demo deletes all of it.",
          file=sys.stderr)
    if answer is None and sys.stdin.isatty():
        answer = input(f"Type the database name ({label}) to delete it, anything else to stop: ").strip()
    if answer == label:
        return True
    print("Nothing was deleted. (Without a terminal: --replace-real-data followed by the database name.)",
          file=sys.stderr)
    return False


def print_import(result) -> None:
    if result.status == "unchanged":
        print(f"{result.message} (logged as import #{result.import_id})")
        return
    for warning in result.report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(result.summary())
    if result.rejected:
        print(result.report.summary().replace("nothing was imported", "these rows were skipped"), file=sys.stderr)
        print(f"Export them to fix and import again: python -m exq_core rejects --import {result.import_id} "
              "--out rejects.csv", file=sys.stderr)


def cmd_import(args) -> int:
    from .errors import DatabaseLocked
    from .ingest import import_file
    from .ingest.inbox import inbox_dir
    rules = load_rules(args.rules)
    status = 0
    try:
        store = open_store(args.db)
    except DatabaseLocked as err:
        inbox = inbox_dir(args.db)
        folder = inbox / args.source if args.source else inbox
        print(f"error: {err}", file=sys.stderr)
        print(f"The running dashboard imports what you drop into {folder}/ within a minute (all-or-nothing, "
              f"reported on its Import page; a folder inbox/<source>/ names the source, and an exq-inbox.toml "
              f"there can give the mapping and encoding):\n  mkdir -p {folder} && cp {' '.join(args.files)} "
              f"{folder}/", file=sys.stderr)
        return 2
    actor = cli_actor()
    with store:
        for file in args.files:
            try:
                with progress_bar(Path(file).name, not args.quiet) as tick:
                    result = import_file(store, file, fmt=args.format, source=args.source,
                                         skip_invalid=args.skip_invalid, actor=actor, rules=rules,
                                         options={"encoding": args.encoding} if args.encoding else None,
                                         mapping=args.mapping, progress=tick)
                print_import(result)
            except FeedInvalid as err:
                print(err.report.summary(), file=sys.stderr)
                recorded = f" (recorded as import #{err.import_id}, refused)" if getattr(err, "import_id", None) else ""
                print(f"Fix the rows above, or import the valid rows with --skip-invalid.{recorded}", file=sys.stderr)
                status = 1
            except ExqError as err:
                recorded = f" (recorded as import #{err.import_id}, failed)" if getattr(err, "import_id", None) else ""
                print(f"{file}: {err}{recorded}", file=sys.stderr)
                status = 1
    return status


def cmd_stats(args) -> int:
    with open_store(args.db) as store, store.read() as cur:
        data = queries.stats(cur, utcnow())
    if args.json:
        print(json.dumps(data, default=_json_default))
        return 0
    print(f"orders {data['orders']:,} · routine {data['routine']:,} · exceptions {data['exceptions']:,} "
          f"({data['exception_rate']}%) · open {data['open']:,} · SLA breached {data['breached']:,} · "
          f"resolved today {data['resolved_today']:,}")
    states = list(next(iter(data["by_bucket"].values())).keys())
    print(f"\n{'bucket':<20}" + "".join(f"{s:>11}" for s in states))
    for bucket, counts in data["by_bucket"].items():
        print(f"{bucket:<20}" + "".join(f"{counts[s]:>11,}" for s in states))
    bands = list(next(iter(data["aging"].values())).keys())
    print(f"\n{'open, by age':<20}" + "".join(f"{b:>9}" for b in bands))
    for bucket, counts in data["aging"].items():
        print(f"{bucket:<20}" + "".join(f"{counts[b]:>9,}" for b in bands))
    return 0


EXPORTS = {
    "cases": "SELECT * FROM cases ORDER BY case_id",
    "decisions": "SELECT * FROM decisions ORDER BY decision_id",
    "events": 'SELECT * FROM events ORDER BY event_id',
    "rejects": "SELECT * FROM rejects ORDER BY import_id, line",
    "imports": "SELECT * FROM imports ORDER BY import_id",
    "accounts": 'SELECT event_id, "at", actor, username, action, from_value, to_value, detail FROM account_events '
                "ORDER BY event_id",
}


def cmd_suggest(args) -> int:
    """Precompute suggestions for the top of the queue. Exits 1 when every model request failed."""
    from . import assist
    from tqdm import tqdm
    config = assist.AIConfig.from_env()
    rules = load_rules(args.rules)
    if config.problem:
        print(f"warning: {config.problem}", file=sys.stderr)
    with open_store(args.db) as store:
        bar = tqdm(total=0, desc="suggest", unit="case", file=sys.stderr, disable=True if args.quiet else None,
                   leave=False)

        def tick(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            report = assist.precompute(store, rules, limit=args.limit, bucket=args.bucket, workers=args.workers,
                                       config=config, progress=tick)
        finally:
            bar.close()
    made = ", ".join(f"{n} {source}" for source, n in sorted(report.by_source.items())) or "none"
    print(f"{report.cases} cases at the top of the queue; {report.already} already had a suggestion; "
          f"{report.made} new ({made}) from {config.describe()}.")
    for reason, n in sorted(report.errors.items(), key=lambda item: -item[1]):
        print(f"fell back to offline ×{n}: {reason}", file=sys.stderr)
    if report.all_failed:
        print(f"error: every model request failed ({report.model_asked}); the offline assistant's suggestions "
              "were stored instead. Check the model server and run suggest again.", file=sys.stderr)
        return 1
    return 0


def cmd_export(args) -> int:
    """A table as CSV: header row, UTF-8, spreadsheet formulas neutralised in every cell."""
    from .exports import batches, write_csv
    out = Path(args.out or f"exq-{args.what}.csv")
    with open_store(args.db) as store, store.read() as cur:
        cur.execute(EXPORTS[args.what])
        columns = cur.columns
        with open(out, "w", newline="", encoding="utf-8") as fh:
            n = write_csv(fh, columns, batches(cur))
    print(f"wrote {n:,} {args.what} to {out}")
    return 0


def cmd_migrate_store(args) -> int:
    """Copy a DuckDB file's data into an empty PostgreSQL database (team server mode)."""
    from .store.transfer import copy_duckdb_to_postgres
    with open_store(args.source) as source, open_store(args.target) as target:
        with progress_bar("migrate-store", not args.quiet) as tick:
            done = copy_duckdb_to_postgres(source, target, progress=tick)
        print(done.summary(source.label, target.label))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m exq_core", description="exq — the ecommerce exception queue")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=str(default_db_target()),
                        help="database: a DuckDB file or a postgresql:// URL (default: $EXQ_DB, else data/exq.duckdb)")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", parents=[common], help="create or migrate the database")
    p.add_argument("--recount", action="store_true",
                   help="count the Overview's kept totals afresh (after an older exq process wrote to a newer schema)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("demo", parents=[common], help="seed a synthetic shop routed through the rules")
    p.add_argument("--orders", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--force", action="store_true",
                   help="replace an existing demo database (one with a team's own data needs its name typed)")
    p.add_argument("--replace-real-data", metavar="NAME",
                   help="with --force, replace a database that holds real data: give its name to confirm")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import", parents=[common], help="import feed files (all-or-nothing per file)")
    p.add_argument("files", nargs="+")
    p.add_argument("--format", default="auto", help="auto, csv, parquet, jsonl, shopify, mapped")
    p.add_argument("--mapping", help="a saved column mapping name or a mapping TOML file")
    p.add_argument("--source", help="where the orders come from (one shop, one ERP); order ids are unique within "
                                    "it. Required for a Shopify export, which does not name its store "
                                    "(default: 'feed', or the mapping's source)")
    p.add_argument("--encoding", help="text encoding of CSV files: utf-8 (default), latin-1, utf-16")
    p.add_argument("--skip-invalid", action="store_true", help="import valid rows, keep the rest as rejects")
    p.add_argument("--rules", help="rules file (default: $EXQ_RULES, else the shipped defaults)")
    p.set_defaults(func=cmd_import)

    from .ingest.commands import register as register_ingest_commands
    register_ingest_commands(sub, common)  # imports, rejects, mapping

    p = sub.add_parser("stats", parents=[common], help="the Overview's numbers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("suggest", parents=[common],
                       help="precompute AI suggestions for the top of the queue (offline without OPENAI_API_KEY)")
    p.add_argument("--limit", type=int, default=50, help="how many cases from the top of the queue (default 50)")
    p.add_argument("--bucket", choices=[b.value for b in Bucket], help="only this bucket")
    p.add_argument("--workers", type=int, default=4, help="model requests in flight at once (default 4, max 16)")
    p.add_argument("--rules", help="rules file (default: $EXQ_RULES, else the shipped defaults)")
    p.set_defaults(func=cmd_suggest)

    p = sub.add_parser("export", parents=[common], help="write a table as CSV")
    p.add_argument("what", nargs="?", choices=sorted(EXPORTS), default="decisions")
    p.add_argument("--out")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("migrate-store", help="copy a DuckDB file's data into an empty PostgreSQL database")
    p.add_argument("--from", dest="source", required=True, help="the DuckDB file, e.g. data/exq.duckdb")
    p.add_argument("--to", dest="target", required=True, help="the PostgreSQL database, postgresql://…")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_migrate_store)

    from .cli_user import add_user_parser
    add_user_parser(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ExqError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was committed by the interrupted step.", file=sys.stderr)
        return 130
