"""What a column mapping is, and where it is kept: `MappingSpec` (their columns → our fields, value
translations, date format and time zone, currency, number convention, invoice lines), validated by pydantic,
read from TOML and saved by name in the `mappings` table. Reading a file through one is `mapping`."""
from __future__ import annotations

import json
import re
import tomllib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from ..access import recheck
from ..errors import FeedError
from ..models import (FEED_COLUMNS, REQUIRED_COLUMNS, SYSTEM, Actor, CustomerTier, FulfillmentStatus,
                      PaymentStatus, RiskLevel)
from ..store import Store, utcnow
from .validate import BOOL_COLUMNS, FALSE_WORDS, MONEY_COLUMNS, TRUE_WORDS

FeedField = Literal[FEED_COLUMNS]  # type: ignore[valid-type]

ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "payment_status": tuple(e.value for e in PaymentStatus),
    "fulfillment_status": tuple(e.value for e in FulfillmentStatus),
    "risk_level": tuple(e.value for e in RiskLevel),
    "customer_tier": tuple(e.value for e in CustomerTier),
}
NUMBER_COLUMNS = MONEY_COLUMNS + ("risk_score",)

_NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_NO_CONTROL)]
ValueText = Annotated[str, StringConstraints(max_length=200, pattern=_NO_CONTROL)]
MappingName = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,59}$")]
LineRole = Literal["quantity", "unit_price", "line_total"]


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """The time zone names a mapping may declare: those DuckDB's own time zone database knows, which is
    what converts the times (no system tzdata needed)."""
    with duckdb.connect() as con:
        return tuple(r[0] for r in con.execute("SELECT name FROM pg_timezone_names() ORDER BY name").fetchall())


class MappingSpec(BaseModel):
    """Their layout → the feed. `columns` maps their column name to our field."""
    model_config = ConfigDict(extra="forbid")

    name: MappingName
    source: MappingName | None = None          # where order ids are unique; default: the mapping's name
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    columns: Annotated[dict[ColumnName, FeedField], Field(min_length=1, max_length=200)]
    values: dict[FeedField, dict[ValueText, ValueText]] = {}
    date_format: Annotated[str, StringConstraints(min_length=2, max_length=60, pattern=_NO_CONTROL)] | None = None
    # the zone their times are local to when written without an offset (an ERP's "10:00" in Vienna); a time
    # with an offset or Z keeps it. None: such times are UTC.
    time_zone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)] | None = None
    default_currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    decimal_comma: bool = False
    delimiter: Literal[",", ";", "\t", "|"] | None = None
    encoding: Literal["utf-8", "latin-1", "utf-16"] = "utf-8"
    # invoice lines: role -> their column; the order's total (and item count) is summed over its rows
    lines: dict[LineRole, ColumnName] | None = None

    @model_validator(mode="after")
    def _consistent(self):
        targets = list(self.columns.values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"each field can come from one column only; mapped more than once: {', '.join(twice)}")
        if self.lines is not None:
            roles = self.lines
            if "line_total" not in roles and not ("quantity" in roles and "unit_price" in roles):
                raise ValueError("lines needs a quantity and a unit_price column, or a line_total column")
            if "unit_price" in roles and "quantity" not in roles:
                raise ValueError("lines: a unit_price needs a quantity column")
            names = [c.strip().lower() for c in roles.values()]
            if len(set(names)) < len(names):
                raise ValueError("lines: each role needs a column of its own")
            mapped = {c.strip().lower() for c in self.columns}
            both = [c for c in roles.values() if c.strip().lower() in mapped]
            if both:
                raise ValueError(f"a lines column cannot also be mapped in columns: {', '.join(both)}")
        required = [c for c in REQUIRED_COLUMNS if not (c == "order_total" and self.lines)]
        missing = [c for c in required if c not in targets]
        if missing:
            raise ValueError(f"required field(s) not mapped: {', '.join(missing)}")
        for field, table in self.values.items():
            if field not in targets:
                raise ValueError(f"values for {field}, but no column is mapped to {field}")
            allowed = ENUM_VALUES.get(field) or (("true", "false") if field in BOOL_COLUMNS else None)
            if allowed:
                wrong = sorted({v for v in table.values() if v.strip().lower() not in allowed
                                and not (field in BOOL_COLUMNS and v.strip().lower() in TRUE_WORDS + FALSE_WORDS)})
                if wrong:
                    raise ValueError(f"values for {field} must translate to one of {', '.join(allowed)}; "
                                     f"not {', '.join(repr(w) for w in wrong)}")
        if self.time_zone is not None and self.time_zone not in time_zones():
            close = [z for z in time_zones() if z.lower() == self.time_zone.lower()]
            raise ValueError(f"time_zone {self.time_zone!r} is not a time zone name" + (
                f": did you mean {close[0]!r}?" if close else " (e.g. Europe/Vienna, America/New_York, UTC)"))
        if self.date_format:
            if "%" not in self.date_format:
                raise ValueError(f"date_format {self.date_format!r} has no % codes (e.g. %d/%m/%Y %H:%M)")
            try:
                sample = datetime(2026, 11, 27, 9, 30, 15).strftime(self.date_format.replace("%z", ""))
                datetime.strptime(sample, self.date_format.replace("%z", ""))
            except ValueError as err:
                raise ValueError(f"date_format {self.date_format!r} is not a strptime format: {err}") from None
        return self

    @property
    def source_name(self) -> str:
        return self.source or self.name

    def to_toml(self) -> str:
        import tomli_w
        data = self.model_dump(exclude_none=True, exclude_defaults=True)
        data["name"] = self.name
        data["columns"] = dict(self.columns)
        return tomli_w.dumps(data)


def explain(err: ValidationError, origin: str) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "mapping"
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}")
    return f"{origin} is not a valid column mapping:\n  " + "\n  ".join(lines)


def parse_spec(data: dict, origin: str = "mapping") -> MappingSpec:
    try:
        return MappingSpec.model_validate(data)
    except ValidationError as err:
        raise FeedError(explain(err, origin)) from None


def load_toml(path: str | Path) -> MappingSpec:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise FeedError(f"cannot read mapping file {path}: {err.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise FeedError(f"mapping file {path} is not valid TOML: {err}") from None
    data.setdefault("name", re.sub(r"[^A-Za-z0-9 _.\-]", "-", path.stem)[:60] or "mapping")
    return parse_spec(data, str(path))


# -- stored mappings -------------------------------------------------------------------------------

def save_mapping(store: Store, spec: MappingSpec, actor: Actor = SYSTEM) -> MappingSpec:
    """Save (or replace) a mapping by name. Managers only, like importing (checked inside the write)."""
    with store.unit_of_work() as uow:
        recheck(uow.cursor, actor, "import")
        uow.execute("INSERT INTO mappings (name, spec, updated_by, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_by = excluded.updated_by, "
                    "updated_at = excluded.updated_at",
                    [spec.name, spec.model_dump_json(), actor.username, utcnow()])
        uow.commit()
    return spec


def delete_mapping(store: Store, name: str, actor: Actor = SYSTEM) -> bool:
    with store.unit_of_work() as uow:
        recheck(uow.cursor, actor, "import")
        n = uow.execute("DELETE FROM mappings WHERE name = ? RETURNING name", [name]).fetchall()
        uow.commit()
    return bool(n)


def list_mappings(store: Store) -> list[dict]:
    with store.read() as cur:
        rows = cur.execute("SELECT name, spec, updated_by, updated_at FROM mappings ORDER BY lower(name)").fetchall()
    return [{"name": n, "spec": _spec(s),
             "updated_by": by, "updated_at": at} for n, s, by, at in rows]


def load_mapping(store: Store, name: str) -> MappingSpec:
    with store.read() as cur:
        row = cur.execute("SELECT spec FROM mappings WHERE name = ?", [name]).fetchone()
        names = [r[0] for r in cur.execute("SELECT name FROM mappings ORDER BY name").fetchall()] if not row else []
    if not row:
        known = ", ".join(names) if names else "none saved yet"
        raise FeedError(f"no saved column mapping named '{name}' (saved: {known}); pass a mapping .toml file "
                        f"or save one on the Import page")
    return _spec(row[0])


def _spec(stored) -> MappingSpec:
    return MappingSpec.model_validate_json(stored) if isinstance(stored, str) else MappingSpec.model_validate(stored)


def resolve_mapping(store: Store, ref: "str | Path | MappingSpec") -> MappingSpec:
    """A MappingSpec, a path to a mapping TOML file, or the name of a saved mapping."""
    if isinstance(ref, MappingSpec):
        return ref
    text = str(ref)
    if text.lower().endswith(".toml") or Path(text).is_file():
        return load_toml(text)
    return load_mapping(store, text)


def spec_json(spec: MappingSpec) -> str:
    return json.dumps(spec.model_dump(exclude_none=True), indent=2)
