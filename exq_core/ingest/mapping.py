"""Column mappings: any other CSV / Parquet / JSON layout read as the feed, through a `MappingSpec`
(what one is and where it is saved: `mapping_spec`). Their columns are found by the names the file writes,
their values translated, dates parsed with the mapping's format and time zone, numbers read by its declared
convention, and for an invoice-line layout the lines of one order summed into the order.
`suggest_mapping` proposes a spec from a file's headers and sample values.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from ..errors import FeedError
from ..models import FEED_COLUMNS, REQUIRED_COLUMNS
from ..store import Store
from ..store.dialect import ident, literal
from . import json_feed, readers
from .mapped_values import (ISO_TEXT, Prepared, _date_expr, _field_expr, _local_iso, _number, _row_currency,
                            prepare)
from .mapping_spec import (ENUM_VALUES, NUMBER_COLUMNS, MappingSpec, delete_mapping, list_mappings,  # noqa: F401
                           load_mapping, load_toml, parse_spec, resolve_mapping, save_mapping, spec_json,
                           time_zones)
from .readers import RawFeed, register
from .validate import MONEY_COLUMNS, TIME_COLUMNS, trim_all

# -- reading a file through a mapping ----------------------------------------------------------------


def load_any(cur, path: Path, encoding: str = "utf-8", delimiter: str | None = None,
             limit: int | None = None) -> tuple[str, list[str], list[str]]:
    """Their file into temp table `loaded`, by its kind. Returns (kind: parquet, jsonl or csv; the column
    names as the file writes them; the table's names for the same columns, in the same order). They differ
    where DuckDB renamed the second of two names that differ only in case (Amount, amount -> amount_1): a
    mapping names the file's columns, and its `amount` read the Amount column."""
    kind = readers.detect_format(path)
    if kind == "parquet":
        readers.load_parquet(cur, path, limit)
    elif kind == "jsonl":
        json_feed.load_jsonl(cur, path, limit)
    else:
        kind = "csv"
        readers.load_csv(cur, path, encoding, delimiter, limit)
    names = [r[0] for r in cur.execute("DESCRIBE loaded").fetchall()]
    written = (readers.parquet_names(cur, path) if kind == "parquet" else
               readers.csv_header(path, *readers.csv_dialect(path, encoding, delimiter)) if kind == "csv" else names)
    if not written or len(written) != len(names):
        written = names
    return kind, [w if w.strip() else n for w, n in zip(written, names)], names


def file_columns(store: Store, path: str | Path, encoding: str = "utf-8", delimiter: str | None = None,
                 sample: int = 200) -> tuple[list[str], dict[str, list[str]]]:
    """The file's column names and up to `sample` distinct non-blank values of each among its first
    5,000 rows (for suggestions)."""
    path = Path(path)
    if not path.is_file():
        raise FeedError(f"no such file: {path}")
    with store.work_cursor() as cur:
        _, written, names = load_any(cur, path, encoding, delimiter, limit=5000)
        samples: dict[str, list[str]] = {}
        for label, name in zip(written, names):
            col = ident(name)
            samples[label] = [r[0] for r in cur.execute(
                f"SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM (SELECT {col} FROM loaded LIMIT 5000) "
                f"WHERE nullif(trim(CAST({col} AS VARCHAR)), '') IS NOT NULL LIMIT {int(sample)}").fetchall()]
        cur.execute("DROP TABLE IF EXISTS loaded")
    return written, samples


NUMBER_FIELDS = NUMBER_COLUMNS + ("items_ordered", "items_available")
LINE_ROLES = ("quantity", "unit_price", "line_total")
LINE_LABELS = {"quantity": "line quantity", "unit_price": "line unit price", "line_total": "line total"}


def _find_columns(names: list[str], wanted: list[str], spec: MappingSpec) -> dict[str, int]:
    """Their column names as the mapping writes them → the position of that column among the file's `names`
    (exact, then ignoring case and surrounding spaces). A missing column is an error naming what the file
    has; so is a name two columns answer to (`Amount` and `amount` for a mapping's `AMOUNT`: the first of
    them was read, without a word)."""
    exact: dict[str, list[int]] = {}
    loose: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        exact.setdefault(n, []).append(i)
        loose.setdefault(n.strip().lower(), []).append(i)
    found, absent, twice = {}, [], []
    for theirs in wanted:
        hits = exact.get(theirs) or loose.get(theirs.strip().lower()) or []
        if len(hits) > 1:
            twice.append(f"{theirs!r} could be any of the columns {', '.join(repr(names[i]) for i in hits)}")
        elif hits:
            found[theirs] = hits[0]
        else:
            absent.append(theirs)
    if twice:
        raise FeedError(f"the mapping '{spec.name}' cannot tell the file's columns apart: {'; '.join(twice)}. "
                        "Give each column its own name in the file, or name the one meant exactly")
    if absent:
        shown = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
        required = any(spec.columns.get(t) in REQUIRED_COLUMNS for t in absent)
        raise FeedError(f"the mapping '{spec.name}' expects {'required ' if required else ''}column(s) "
                        f"{', '.join(repr(a) for a in absent)} that the file does not have (the file has: {shown})")
    return found


@register("mapped")
def read_mapped(cur, path: Path, options: dict) -> RawFeed:
    """Any layout through a column mapping: their columns renamed, values translated, dates parsed with the
    mapping's format, numbers read by its declared convention, and — for an invoice-line layout — the lines
    of one order summed into the order (total = Σ quantity × unit price, or Σ line total)."""
    spec: MappingSpec | None = options.get("spec")
    if spec is None:
        raise FeedError("format 'mapped' needs a column mapping (--mapping NAME or a .toml file)")
    encoding = options.get("encoding") or spec.encoding
    kind, file_names, names = load_any(cur, path, encoding, spec.delimiter)
    lines = dict(spec.lines or {})
    columns = {theirs: names[i] for theirs, i in
               _find_columns(file_names, list(spec.columns) + list(lines.values()), spec).items()}
    found = {field: columns[theirs] for theirs, field in spec.columns.items()}          # field -> their column
    line_cols = {role: columns[theirs] for role, theirs in lines.items()}
    used = set(found.values()) | set(line_cols.values())
    ignored = [w for w, n in zip(file_names, names) if n not in used]
    if kind == "parquet":
        readers.refuse_unusable_columns(cur, "loaded", [n for n in names if n in used])

    # the row's numbers (and dates, and currency) trimmed and split once, as columns of mapped_src (`prepare`)
    prefix = next(p for p in (f"exq{'_' * i}" for i in range(1, len(names) + 2))
                  if not any(n.startswith(p) for n in names))
    to_prepare = {field: (_field_expr(ident(found[field]), field, spec), field in MONEY_COLUMNS)
                  for field in found if field in NUMBER_FIELDS + ("currency",)
                  or (field in TIME_COLUMNS and spec.date_format)}
    to_prepare |= {f"l_{role}": (f"CAST({ident(theirs)} AS VARCHAR)", role != "quantity")
                   for role, theirs in line_cols.items()}
    offset = 2 if kind == "csv" else 1
    prepared_sql, prepared = prepare(
        to_prepare, f"(SELECT rowid - (SELECT min(rowid) FROM loaded) + {offset} AS line, * FROM loaded)", prefix)
    amounts = [prepared[k] for k in MONEY_COLUMNS + ("l_unit_price", "l_line_total") if k in prepared]
    row_currency, source = _row_currency(prepared.get("currency"), spec.default_currency, amounts,
                                         found.get("currency"))
    # the row's currency, unless it is the default for every row, is a column of its own too: every amount
    # compares its marks with it
    per_row = "currency" in found or not spec.default_currency
    currency = ident(f"{prefix}currency") if per_row else row_currency
    select, written, checks = [], [], []
    for field in FEED_COLUMNS:
        if field == "currency":     # as written, else the row's currency (the default, or an amount's)
            select.append(f"CASE WHEN {prepared['currency'].blank} THEN {currency} ELSE "
                          f"{prepared['currency'].text} END AS currency" if "currency" in found
                          else f"{currency} AS currency")
            continue
        if field not in found:
            select.append(f"NULL::VARCHAR AS {field}")
            continue
        col = ident(found[field])
        expr = _field_expr(col, field, spec)
        if field in NUMBER_FIELDS:
            normal, reason = _number(prepared[field], spec, (currency, source) if field in MONEY_COLUMNS else None)
            checks.append(f"""SELECT line, '{field}' AS column_name, left(CAST({col} AS VARCHAR), 120) AS value,
                {reason} AS reason, line AS row_line FROM mapped_src WHERE ({reason}) IS NOT NULL""")
            written.append(f"CAST({col} AS VARCHAR) AS w_{field}")
            expr = normal
        elif field in TIME_COLUMNS and spec.date_format:
            parsed, reason = _date_expr(prepared[field], spec.date_format, spec.time_zone)
            checks.append(f"""SELECT line, '{field}' AS column_name, left({expr}, 120) AS value,
                {reason} AS reason, line AS row_line FROM mapped_src WHERE ({reason}) IS NOT NULL""")
            written.append(f"CAST({col} AS VARCHAR) AS w_{field}")
            expr = f"strftime({parsed}, '{ISO_TEXT}')"
        elif field in TIME_COLUMNS and spec.time_zone:
            expr = _local_iso(expr, spec.time_zone)
        select.append(f"{expr} AS {field}")
    line_currency = (currency, source)
    for role in line_cols:
        normal, _ = _number(prepared[f"l_{role}"], spec, None if role == "quantity" else line_currency, strict=True)
        select.append(f"{normal} AS n_{role}")
    if per_row:
        prepared_sql = f"SELECT *, {row_currency} AS {currency} FROM ({prepared_sql})"
    cur.execute(f"CREATE OR REPLACE TEMP TABLE mapped_src AS {prepared_sql}")
    cur.execute("DROP TABLE loaded")
    try:
        body = f"SELECT line, {', '.join(select + written)} FROM mapped_src"
        if line_cols:
            body = _typed_lines(body, line_cols)
            cur.execute(f"CREATE OR REPLACE TEMP TABLE raw AS "
                        f"{_order_from_lines(body, line_cols, written, per_row)}")
        else:
            cur.execute(f"CREATE OR REPLACE TEMP TABLE raw AS {body}")
        errors = " UNION ALL ".join(checks) if checks else \
            ("SELECT NULL::BIGINT AS line, NULL::VARCHAR AS column_name, NULL::VARCHAR AS value, "
             "NULL::VARCHAR AS reason, NULL::BIGINT AS row_line WHERE false")
        if line_cols:
            # a broken line invalidates its order (whose row is its first line): found by the key the lines
            # were grouped on, so no line can fall outside its own order
            errors = (f"SELECT e.line, e.column_name, e.value, e.reason, r.line AS row_line FROM ({errors}) e "
                      f"JOIN (SELECT line, l_key, l_alone FROM ({body}) b) k ON k.line = e.line "
                      f"JOIN raw r ON r.l_key IS NOT DISTINCT FROM k.l_key AND r.l_alone IS NOT DISTINCT FROM k.l_alone"
                      f" UNION ALL {_line_errors(line_cols, prepared, spec, line_currency)} "
                      f"UNION ALL {_order_checks(per_row)}")
        cur.execute(f"CREATE OR REPLACE TEMP TABLE mapped_errors AS {errors}")
    except duckdb.Error as err:
        raise FeedError(f"the mapping '{spec.name}' cannot be applied: {str(err).splitlines()[0][:300]}") from None
    cur.execute("DROP TABLE IF EXISTS original")
    cur.execute("ALTER TABLE mapped_src RENAME TO original")
    rows = cur.execute("SELECT count(*) FROM raw").fetchone()[0]
    if rows == 0:
        raise FeedError("the file has a header but no rows")
    warnings = [f"ignored column(s) the mapping does not use: {', '.join(ignored[:20])}"
                + (" …" if len(ignored) > 20 else "")] if ignored else []
    as_written = dict(zip(names, file_names))       # a message names a column as the file writes it
    if line_cols:
        n_lines = cur.execute("SELECT count(*) FROM original").fetchone()[0]
        warnings.insert(0, f"{n_lines:,} lines summed into {rows:,} orders (one order per "
                           f"{as_written[found['order_id']]}).")
    labels = {field: as_written[name] for field, name in found.items()}
    if line_cols:
        line_cols = {role: as_written[name] for role, name in line_cols.items()}
        labels["order_total"] = " × ".join(line_cols[r] for r in ("quantity", "unit_price") if r in line_cols) \
            if "line_total" not in line_cols else f"Σ {line_cols['line_total']}"
        if "quantity" in line_cols:
            labels["items_ordered"] = f"Σ {line_cols['quantity']}"
    return RawFeed("raw", rows, warnings, "row" if kind == "parquet" else "line", errors="mapped_errors",
                   labels=labels, original="original", header=names, header_written=file_names,
                   written=frozenset(w.rsplit(" AS w_", 1)[1] for w in written), kind=kind,
                   present=frozenset(found) | ({"order_total"} | ({"items_ordered"} if "quantity" in line_cols
                                                                 else set()) if line_cols else set()))


# A line's numbers are used exactly as written, or not at all: a value that does not fit them is an error on its
# line, never rounded (a wholesale price of 0.0000004 is not 0.000000) and never left out of the sum (a failed
# cast is NULL, which sum() skips). The order's total is rounded to the feed's 3 places once, after the sum.
QUANTITY = "DECIMAL(10,0)"
MAX_QUANTITY = 2_147_483_647            # the order's item count is an INTEGER
PRICE_DIGITS, PRICE_PLACES = 15, 10     # 15 digits before the point, as the feed's money allows
PRICE = f"DECIMAL({PRICE_DIGITS + PRICE_PLACES},{PRICE_PLACES})"
# a line amount or an order total from here up is beyond the feed's money, DECIMAL(18,3); a line amount
# beyond it is left out of the sum, which then cannot overflow (and fail the whole file)
MAX_TOTAL = 10 ** 15
_WHOLE = r"^[+-]?[0-9]+(\.0*)?$"
_EXACT_PRICE = rf"^[+-]?0*[0-9]{{1,{PRICE_DIGITS}}}(\.[0-9]{{0,{PRICE_PLACES}}}0*)?$"
_FEW_PLACES = rf"^[+-]?[0-9]+(\.[0-9]{{0,{PRICE_PLACES}}}0*)?$"
CREDIT_NOTE = ("the lines sum to a negative total: a credit note or cancellation, which is not an order "
               "(exq imports orders, not credits)")
LINE_TOO_MUCH = "more than an order total can hold (15 digits before the decimal point)"
TOO_MUCH = f"the lines sum to {LINE_TOO_MUCH}"
TOO_MANY = f"the lines' quantities sum to more than an order's item count can hold ({MAX_QUANTITY:,})"


def _line_value(normal: str, role: str) -> str:
    """The line's number as a DECIMAL from its normalised text (`_number`); NULL when it has none that can be
    used exactly."""
    if role == "quantity":
        typed = f"TRY_CAST({normal} AS {QUANTITY})"
        return (f"CASE WHEN regexp_full_match({normal}, {literal(_WHOLE)}) AND abs({typed}) <= {MAX_QUANTITY} "
                f"THEN {typed} END")
    return f"CASE WHEN regexp_full_match({normal}, {literal(_EXACT_PRICE)}) THEN TRY_CAST({normal} AS {PRICE}) END"


def _line_problem(value: Prepared, role: str, spec: MappingSpec, by_line_total: bool,
                  currency: tuple[str, str] | None = None) -> str:
    """SQL for why a line's value has no number `_line_value` can use; NULL when it has one. A blank is an error
    too: the order's total (or item count) would be unknown, and a line counted as nothing makes a wrong
    total. A price passes the row's `currency` (see `_number`)."""
    normal, reason = _number(value, spec, None if role == "quantity" else currency, strict=True)
    if role == "quantity":
        problem = (f"CASE WHEN NOT regexp_full_match({normal}, {literal(_WHOLE)}) "
                   f"THEN 'quantity must be a whole number' "
                   f"ELSE {literal(f'out of range: a quantity can be at most {MAX_QUANTITY:,}')} END")
    else:
        problem = (f"CASE WHEN regexp_full_match({normal}, {literal(_FEW_PLACES)}) "
                   f"THEN {literal(f'out of range: at most {PRICE_DIGITS} digits before the decimal mark')} "
                   f"ELSE {literal(f'more than {PRICE_PLACES} decimal places: it cannot be used exactly')} END")
    needed = "item count" if role == "quantity" and by_line_total else "total"
    missing = f"blank: every line needs its {role.replace('_', ' ')}, or the order's {needed} is unknown"
    return (f"CASE WHEN {value.blank} THEN {literal(missing)} "
            f"ELSE coalesce({reason}, CASE WHEN ({_line_value(normal, role)}) IS NULL THEN {problem} END) END")


def _line_errors(line_cols: dict[str, str], prepared: dict[str, Prepared], spec: MappingSpec,
                 currency: tuple[str, str]) -> str:
    """The errors of the lines an order could not use (`l_bad`), on the order's row. The reasons are worked out
    for those lines alone, in a projection: as a WHERE, DuckDB pushed them down onto every line of the file
    (2 s instead of 0.2 s for a 200,000-line file)."""
    by_line_total = "line_total" in line_cols
    errors = []
    for role, theirs in line_cols.items():
        errors.append((f"{theirs} ({LINE_LABELS[role]})", f"left(CAST({ident(theirs)} AS VARCHAR), 120)",
                       _line_problem(prepared[f"l_{role}"], role, spec, by_line_total, currency)))
    if not by_line_total:
        quantity, price = line_cols["quantity"], line_cols["unit_price"]
        q = _line_value(_number(prepared["l_quantity"], spec)[0], "quantity")
        p = _line_value(_number(prepared["l_unit_price"], spec)[0], "unit_price")
        errors.append((f"{quantity} × {price} (line amount)",
                       f"left(CAST({ident(quantity)} AS VARCHAR) || ' × ' || CAST({ident(price)} AS VARCHAR), 120)",
                       f"CASE WHEN abs(({q}) * ({p})) >= {MAX_TOTAL} THEN {literal(LINE_TOO_MUCH)} END"))
    structs = ", ".join(f"{{'column': {literal(c)}, 'value': {v}, 'reason': {r}}}" for c, v, r in errors)
    return f"""SELECT e.line, e.error.column AS column_name, e.error.value, e.error.reason, b.row_line
        FROM (SELECT line, unnest(list_filter([{structs}], lambda x: x.reason IS NOT NULL)) AS error
              FROM mapped_src WHERE line IN (SELECT unnest(l_bad) FROM raw WHERE len(l_bad) > 0)) e
        JOIN (SELECT line AS row_line, unnest(l_bad) AS line FROM raw WHERE len(l_bad) > 0) b ON b.line = e.line"""


def _order_checks(currencies: bool) -> str:
    """Errors of an order as a whole, on its row. Its total and item count are checked for range here (the
    generic checks would call 30000000000000000 "not a decimal number"); a negative total only when every
    line is known, since a missing line could change its sign. Lines in different currencies (`currencies`:
    when they can be) cannot be summed."""
    total, items = "TRY_CAST(order_total AS DECIMAL(38,3))", "TRY_CAST(items_ordered AS DECIMAL(38,0))"
    return f"""SELECT line, 'order_total' AS column_name, order_total AS value,
            CASE WHEN abs({total}) >= {MAX_TOTAL} THEN {literal(TOO_MUCH)} ELSE {literal(CREDIT_NOTE)} END AS reason,
            line AS row_line
        FROM raw WHERE abs({total}) >= {MAX_TOTAL} OR ({total} < 0 AND len(l_bad) = 0)
        UNION ALL SELECT line, 'items_ordered', items_ordered, {literal(TOO_MANY)}, line
        FROM raw WHERE abs({items}) > {MAX_QUANTITY}""" + (f"""
        UNION ALL SELECT line, 'currency', currency, 'its lines are in different currencies (' || l_currencies ||
            '): an order''s lines are summed in one currency', line
        FROM raw WHERE l_currencies IS NOT NULL""" if currencies else "")


def _typed_lines(lines_sql: str, line_cols: dict[str, str]) -> str:
    """The lines with their numbers (`_line_value`) and the key of their order: the lines of one order are
    those whose ids are the same once trimmed as the order id is stored (validate.trim_all); a line without
    an order id stands alone (l_alone: its own line number, so no id — not even "#line 5" — can join it) and
    fails, order_id being required. Grouping the lines and finding a broken line's order both use this key."""
    key = f"nullif({trim_all('order_id')}, '')"
    values = "".join(f"{_line_value(f'n_{role}', role)} AS l_{role}, " for role in line_cols)
    return f"SELECT *, {values}{key} AS l_key, CASE WHEN {key} IS NULL THEN line END AS l_alone FROM ({lines_sql}) l"


def _order_from_lines(lines_sql: str, line_cols: dict[str, str], written: list[str], currencies: bool) -> str:
    """One feed row per order from its typed lines (`_typed_lines`): the order's fields from its first line,
    the total and the quantity summed, and the lines it could not use (l_bad: a value that is not a usable
    number, or a line amount beyond what a total can hold — each an error, `_line_errors`); and, when the lines'
    currencies can differ (`currencies`), the two of them that do (l_currencies)."""
    order_fields = [c for c in FEED_COLUMNS if c not in ("order_total", "items_ordered")]
    w_cols = [w.rsplit(" AS ", 1)[1] for w in written]
    amount = "l_line_total" if "line_total" in line_cols else "l_quantity * l_unit_price"
    summed = f"CASE WHEN abs({amount}) < {MAX_TOTAL} THEN {amount} END"
    bad = f"{summed} IS NULL" + (" OR l_quantity IS NULL" if "quantity" in line_cols else "")
    qty = "CAST(sum(l_quantity) AS VARCHAR)" if "quantity" in line_cols else "NULL"
    firsts = ", ".join(f"arg_min({c}, line) AS {c}" for c in order_fields + w_cols)
    # written as money is (30.60, not 30.600): it is what an error about the total shows. An order whose every
    # line is unknown sums to 0, not NULL: its lines' errors say what is wrong, "required value is blank"
    # about a total nobody wrote would not.
    as_text = f"CAST(round(coalesce(sum({summed}), 0), 3) AS VARCHAR)"
    cents, keep = literal(r"(\.[0-9]{2})0$"), literal(r"\1")
    code = f"upper({trim_all('currency')})"
    differ = f"CASE WHEN min({code}) <> max({code}) THEN min({code}) || ', ' || max({code}) END AS l_currencies, " \
        if currencies else ""
    return f"""
        SELECT min(line) AS line, {firsts},
               regexp_replace({as_text}, {cents}, {keep}) AS order_total, {qty} AS items_ordered,
               coalesce(list(line) FILTER (WHERE {bad}), []) AS l_bad, {differ}l_key, l_alone
        FROM ({lines_sql}) l
        GROUP BY l_key, l_alone"""
