"""Direct SQL for tests that set up a situation the product never writes itself (a follow-up moved, a
hostile value planted): portable SQL both backends run, in a committed unit of work."""
from __future__ import annotations

from exq_core.store import Store, tallies
from exq_core.store.schema import SEARCH_TEXT


def write(store: Store, sql: str, params=None) -> None:
    """A statement the product never runs; the Overview's kept counts (store/tallies.py) are counted afresh
    after one that touches orders or cases, as the product's own writes keep them."""
    with store.unit_of_work() as uow:
        uow.execute(sql, params)
        if any(table in sql.lower() for table in ("cases", "orders")):
            tallies.recount(uow.cursor)
        uow.commit()


def rows(store: Store, sql: str, params=None) -> list[tuple]:
    with store.read() as cur:
        return [tuple(r) for r in cur.execute(sql, params).fetchall()]


def one(store: Store, sql: str, params=None) -> tuple:
    (row,) = rows(store, sql, params)
    return row


def reindex_order(store: Store, source: str, order_id: str) -> None:
    """Recompute an order's search text after a test changed its fields (what a PostgreSQL import does;
    DuckDB reads the fields themselves)."""
    if not store.is_postgres:
        return
    write(store, f"UPDATE orders SET search_text = {SEARCH_TEXT} WHERE source = ? AND order_id = ?",
          [source, order_id])


def kept_and_recounted(store: Store) -> tuple[list, list]:
    """The Overview's kept counts (store/tallies.py), and the same counted afresh from every row (in a unit
    of work that is rolled back)."""
    read = "SELECT name, n FROM tallies WHERE n <> 0 ORDER BY name"
    with store.read() as cur:
        kept = [tuple(r) for r in cur.execute(read).fetchall()]
    with store.unit_of_work() as uow:
        tallies.recount(uow.cursor)
        fresh = [tuple(r) for r in uow.execute(read).fetchall()]
    return kept, fresh
