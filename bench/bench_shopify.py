"""Import + route a Shopify orders export (SPEC §8: ≤ 15 s for 1,000,000 rows; ratio to DuckDB's bare load).

The export is generated from the real header (`shared/data/shopify/orders_export_header.csv`, kept as
`SHOPIFY_HEADER` below so the benchmark runs anywhere): `--orders N` means N *lines*, several line items
per order (1, 2, 3, 4 in turn: 2.5 on average), order fields on an order's first line only, as Shopify
writes them. Both sides run in a fresh child process on a fresh database file: the bare side is
`CREATE TABLE … AS SELECT * FROM read_csv(file)`, the exq side is `import_file(fmt="shopify")` (hash,
read, aggregate line items, validate, apply, route, commit).
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from bench.run import ROOT, Context, Row, run_child

BACKENDS = ("duckdb",)           # the file side of an import is the same on both backends (see bench_import)
BUDGET_SECONDS = 15.0
BUDGET_RATIO = 2.5

SHOPIFY_HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,"
    "Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,"
    "Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,"
    "Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,"
    "Billing Address2,Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,"
    "Shipping Name,Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,"
    "Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,"
    "Payment Method,Payment Reference,Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,"
    "Id,Tags,Risk Level,Source,Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,"
    "Tax 3 Value,Tax 4 Name,Tax 4 Value,Tax 5 Name,Tax 5 Value,Phone,Receipt Number,Duties,"
    "Billing Province Name,Shipping Province Name,Payment ID,Payment Terms Name,Next Payment Due At,"
    "Payment References").split(",")


def shopify_export_sql(lines: int, seed: int) -> str:
    """The export as one DuckDB query (parameter $now). Every draw is a hash of (seed, order, name)."""
    def u(name: str) -> str:
        return f"((hash({seed}, oid, '{name}') % 1000003) / 1000003.0)"

    # ten lines make four orders of 1, 2, 3 and 4 line items
    order_of = "[0, 1, 1, 2, 2, 2, 3, 3, 3, 3]"
    first_of = "[0, 1, 1, 3, 3, 3, 6, 6, 6, 6]"
    ts = "strftime({t}, '%Y-%m-%d %H:%M:%S') || ' -0500'"
    created = "($now - to_microseconds(CAST(" + u("age") + " * 30 * 86400e6 AS BIGINT)) - INTERVAL 5 HOUR)"
    first_line = {
        "Name": "name",
        "Email": "email",
        "Financial Status": "fin",
        "Paid at": f"CASE WHEN fin IN ('paid', 'partially_refunded', 'refunded') THEN {ts.format(t=created)} END",
        "Fulfillment Status": f"CASE WHEN {u('ful')} < 0.6 THEN 'fulfilled' WHEN {u('ful')} < 0.7 THEN 'partial' "
                              f"ELSE 'unfulfilled' END",
        "Accepts Marketing": f"CASE WHEN {u('mk')} < 0.4 THEN 'yes' ELSE 'no' END",
        "Currency": "'USD'",
        "Subtotal": "CAST(total - 5 AS VARCHAR)",
        "Shipping": "'5.00'",
        "Taxes": "'0.00'",
        "Total": "CAST(total AS VARCHAR)",
        "Shipping Method": "'Standard'",
        "Created at": ts.format(t=created),
        "Billing Name": "ship_name", "Billing Street": "street", "Billing Address1": "street",
        "Billing City": "'Austin'", "Billing Zip": "'''78701'", "Billing Province": "'TX'",
        "Billing Country": "'US'",
        "Shipping Name": "ship_name",
        "Shipping Street": "CASE WHEN blank_addr THEN NULL ELSE street END",
        "Shipping Address1": "CASE WHEN blank_addr THEN NULL ELSE street END",
        "Shipping City": "'Austin'", "Shipping Zip": "'''78701'", "Shipping Province": "'TX'",
        "Shipping Country": "'US'",
        "Notes": f"CASE WHEN {u('note')} < 0.02 THEN 'Please leave at the door, \"back\" porch, thanks' END",
        "Cancelled at": f"CASE WHEN {u('can')} < 0.01 THEN {ts.format(t=created)} END",
        "Payment Method": "'Shopify Payments'",
        "Refunded Amount": "CASE fin WHEN 'refunded' THEN CAST(total AS VARCHAR) "
                           "WHEN 'partially_refunded' THEN '5.00' ELSE '0.00' END",
        "Outstanding Balance": f"CASE WHEN fin IN ('pending', 'authorized') THEN CAST(total AS VARCHAR) "
                               f"WHEN {u('owe')} < 0.01 THEN '3.50' ELSE '0.00' END",
        "Id": "CAST(5000000000 + oid AS VARCHAR)",
        "Tags": f"CASE WHEN {u('vip')} < 0.03 THEN 'VIP, wholesale' WHEN {u('vip')} < 0.2 THEN 'newsletter' END",
        "Risk Level": f"CASE WHEN {u('risk')} < 0.005 THEN 'High' WHEN {u('risk')} < 0.02 THEN 'Medium' ELSE 'Low' END",
        "Source": "'web'",
        "Payment ID": "'c' || oid || '.1'",
    }
    every_line = {
        "Name": "name", "Email": "email",
        "Lineitem quantity": f"CAST(1 + CAST(floor({u('q') } * 3) AS INTEGER) AS VARCHAR)",
        "Lineitem name": "'Ceramic mug - Blue / ' || k",
        "Lineitem price": "'12.50'", "Lineitem sku": "'MUG-' || k", "Lineitem requires shipping": "'true'",
        "Lineitem taxable": "'true'", "Lineitem fulfillment status": "'pending'", "Vendor": "'exq-shop'",
        "Lineitem discount": "'0.00'",
    }
    cols = []
    for name in SHOPIFY_HEADER:
        first = first_line.get(name)
        every = every_line.get(name)
        if every is not None:
            expr = every
        elif first is not None:
            expr = f"CASE WHEN k = 0 THEN {first} END"
        else:
            expr = "NULL"
        cols.append(f"{expr} AS \"{name}\"")
    return f"""
    WITH l AS (
        SELECT j, (j // 10) * 4 + {order_of}[1 + j % 10] AS oid, j % 10 - {first_of}[1 + j % 10] AS k
        FROM range({lines}) t(j)),
    o AS (
        SELECT j, oid, k, '#' || (1001 + oid) AS name, 'customer' || (oid % 250000) || '@example.com' AS email,
               CASE WHEN {u('fin')} < 0.80 THEN 'paid' WHEN {u('fin')} < 0.86 THEN 'pending'
                    WHEN {u('fin')} < 0.90 THEN 'authorized' WHEN {u('fin')} < 0.94 THEN 'partially_refunded'
                    WHEN {u('fin')} < 0.97 THEN 'refunded' WHEN {u('fin')} < 0.98 THEN 'voided'
                    ELSE 'partially_paid' END AS fin,
               round(10 + {u('tot')} * {u('tot2')} * 1500, 2)::DECIMAL(18,2) AS total,
               'Customer ' || oid AS ship_name,
               (1 + oid % 900) || ' Congress Ave' AS street,
               {u('addr')} < 0.004 AS blank_addr
        FROM l)
    SELECT {', '.join(cols)} FROM o ORDER BY j"""


def write_shopify_export(path: str | Path, lines: int, seed: int = 11, now: datetime | None = None) -> Path:
    """Write a Shopify orders export of `lines` line items (about lines / 2.5 orders)."""
    import duckdb
    from exq_core.store import literal, utcnow
    from exq_core.store.duck import DUCKDB_CONFIG, quiet
    path = Path(path)
    con = quiet(duckdb.connect(config=DUCKDB_CONFIG))
    con.execute(f"COPY ({shopify_export_sql(lines, seed)}) TO {literal(str(path))} (HEADER, DELIMITER ',')",
                {"now": now or utcnow()})
    con.close()
    return path


def _child(kind: str, export: str, db: str) -> None:
    """Runs in the child process: one measured load, its time printed as JSON."""
    import time
    sys.path.insert(0, str(ROOT))
    from exq_core.store import open_store
    from exq_core.store.duck import connect
    if kind == "bare":
        con = connect(db)
        start = time.perf_counter()
        con.execute("CREATE TABLE export AS SELECT * FROM read_csv($path)", {"path": export})
        seconds = time.perf_counter() - start
        rows = con.execute("SELECT count(*) FROM export").fetchone()[0]
        extra = {}
        con.close()
    else:
        from exq_core.ingest import import_file
        store = open_store(db)
        stages = {}
        start = time.perf_counter()
        result = import_file(store, export, fmt="shopify", source="bench",
                             progress=lambda stage, f: stages.setdefault(stage, time.perf_counter() - start))
        seconds = time.perf_counter() - start
        rows = result.rows
        extra = {"orders": result.orders_new, "cases": result.cases_new, "stages": stages}
        store.close()
    print(json.dumps({"seconds": seconds, "rows": rows, **extra}))


def _measure(kind: str, export: Path, db: Path) -> tuple[float, float, dict]:
    """(seconds, peak RSS in MB, what the child printed — plus its CPU seconds) of one run in a child."""
    db.unlink(missing_ok=True)
    data, usage = run_child("bench.bench_shopify", kind, str(export), str(db))
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    data["cpu"] = usage.ru_utime + usage.ru_stime  # the whole child (startup included): load-independent
    return data["seconds"], usage.ru_maxrss / 1024, data  # ru_maxrss is in KiB on Linux


def _generate(path: Path, lines: int) -> Path:
    """Write the export in a child process, so this process stays small: a child forked from a big parent
    would report the parent's memory as its own peak RSS."""
    subprocess.run([sys.executable, "-m", "bench.bench_shopify", "generate", str(path), str(lines)], cwd=ROOT,
                   check=True)
    return path


def run(ctx: Context) -> list[Row]:
    export = _generate(ctx.workdir / f"shopify-{ctx.orders}.csv", ctx.orders)
    bare, imports, rss, cpu, last = [], [], [], [], {}
    for i in range(ctx.repeat):
        seconds, _, _ = _measure("bare", export, ctx.workdir / f"shopify-bare-{i}.duckdb")
        bare.append(seconds)
        seconds, peak, last = _measure("import", export, ctx.workdir / f"shopify-import-{i}.duckdb")
        imports.append(seconds)
        rss.append(peak)
        cpu.append(last["cpu"])
    t_bare, t_import = statistics.median(bare), statistics.median(imports)
    ratio = t_import / t_bare if t_bare else float("inf")
    full = ctx.full_size
    n = f"{ctx.orders:,}"
    size_mb = export.stat().st_size / 1e6
    return [
        Row(f"bare DuckDB read_csv of the Shopify export, {n} lines ({size_mb:,.0f} MB)", t_bare, "s", compare=False),
        Row(f"import + route Shopify export, {n} lines → {last.get('rows', 0):,} orders", t_import, "s",
            f"≤ {BUDGET_SECONDS:g} s", t_import <= BUDGET_SECONDS if full else None),
        Row("Shopify import / bare load", ratio, "×", f"≤ {BUDGET_RATIO:g}×", ratio <= BUDGET_RATIO if full else None),
        Row("Shopify import throughput", ctx.orders / t_import if t_import else 0.0, "lines/s"),
        Row("Shopify import CPU time (user + sys, child process)", statistics.median(cpu), "s"),
        Row("Shopify import peak RSS (child process)", max(rss), "MB"),
    ]


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        sys.path.insert(0, str(ROOT))
        write_shopify_export(sys.argv[2], int(sys.argv[3]), seed=11)
    else:
        _child(*sys.argv[1:4])
