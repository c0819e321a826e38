"""Import: upload a feed, map an unknown layout, preview it as exq reads it, see the validation report,
import with a progress bar, and the result by bucket; the import history (refused ones too) with rejects,
the inbox, and saved column mappings. Every rule lives in exq_core.ingest; this page only renders."""
from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from exq_core.errors import ExqError, FeedError, FeedInvalid, NotPermitted
from exq_core.ingest import import_file, preview_file
from exq_core.ingest import mapping as mappings
from exq_core.ingest import readers
from exq_core.ingest.suggest import suggest_mapping
from exq_core.exports import csv_bytes
from exq_core.ingest.feed import SourceName
from exq_core.ingest.inbox import inbox_dir, inbox_files
from exq_core.queries import imports as import_log
from exq_core.models import BUCKETS, BUCKET_LABELS, FEED_COLUMNS, REQUIRED_COLUMNS
from exq_core.workflow import PERMISSIONS
from ui.common import db_target, get_rules, get_store, page_guard
from ui.data import fresh
from ui.format import md_code, md_escape as esc  # file names, column names and messages are data, not Markdown

FORMATS = {
    "csv": "Generic feed (CSV)",
    "parquet": "Generic feed (Parquet)",
    "jsonl": "Generic feed (JSON lines)",
    "shopify": "Shopify orders export (CSV)",
    "mapped": "Another layout — column mapping",
}
UPLOAD_TYPES = ["csv", "txt", "tsv", "gz", "parquet", "pq", "jsonl", "ndjson", "json"]
IGNORE = "(ignore)"
FILE_KEY = "import_file"          # {"path", "name", "id"} of the file being imported in this session
RESULT_KEY = "import_result"
CLICKED = "import_clicked"        # set by button callbacks: a click survives a rerun through app.py

actor = page_guard()
st.title("Import")
can_import = actor is not None and "import" in PERMISSIONS[actor.role]
store = get_store()


def _clicked(name: str) -> None:
    st.session_state.setdefault(CLICKED, set()).add(name)


def _was_clicked(name: str) -> bool:
    clicked = st.session_state.get(CLICKED) or set()
    if name in clicked:
        clicked.discard(name)
        return True
    return False


# -- cached reads (a rerun must not re-read a large file) ---------------------------------------------

@st.cache_data(show_spinner="Reading the file…", max_entries=8)
def _columns(path: str, stamp: float, encoding: str | None, delimiter: str | None):
    return mappings.file_columns(get_store(), path, encoding or "utf-8", delimiter)


@st.cache_data(show_spinner="Reading and validating…", max_entries=8)
def _preview(path: str, stamp: float, fmt: str, spec_json: str | None, encoding: str | None):
    spec = mappings.MappingSpec.model_validate_json(spec_json) if spec_json else None
    options = {"encoding": encoding} if encoding else {}
    return preview_file(get_store(), path, fmt=fmt, mapping=spec, options=options, limit=20, rules=get_rules())


def _rejects_csv(import_id: int) -> bytes:
    """The rejected rows as the file wrote them (plus exq_line, exq_errors): fix them and import again."""
    columns, rows = fresh(import_log.rejected_rows, import_id)
    return csv_bytes(columns, rows)


def _stamp(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


def _save_upload(uploaded) -> dict:
    """The upload into a private temp folder (exq reads files, not streams); one per session."""
    current = st.session_state.get(FILE_KEY)
    if current and current["id"] == uploaded.file_id and Path(current["path"]).exists():
        return current
    if current:
        shutil.rmtree(Path(current["path"]).parent, ignore_errors=True)
    root = Path(tempfile.gettempdir()) / "exq-uploads"
    root.mkdir(exist_ok=True)
    for old in root.iterdir():          # uploads of sessions long gone
        try:
            if time.time() - old.stat().st_mtime > 86_400:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    folder = Path(tempfile.mkdtemp(dir=root))
    name = Path(uploaded.name).name or "upload.csv"
    path = folder / name
    with open(path, "wb") as fh:
        fh.write(uploaded.getbuffer())
    st.session_state.pop(RESULT_KEY, None)
    return {"path": str(path), "name": name, "id": uploaded.file_id}


# -- the import flow ------------------------------------------------------------------------------------

def _show_report(report, *, imported: bool = False) -> None:
    if report.ok:
        st.success(f"**{esc(report.file_name)}**: {report.rows:,} rows, no errors.")
    else:
        verb = "would be skipped with “skip invalid rows”" if not imported else "were skipped"
        st.error(f"**{esc(report.file_name)}**: {report.error_count:,} invalid value(s) in {report.invalid_rows:,} of "
                 f"{report.rows:,} rows. All-or-nothing: nothing is imported while a row is invalid; "
                 f"the invalid rows {verb}.")
        errors = pd.DataFrame([e.model_dump() for e in report.errors])
        errors = errors.rename(columns={"line": report.line_label})
        st.dataframe(errors, hide_index=True, width="stretch", key="report_errors",
                     column_config={"value": st.column_config.TextColumn("value", width="medium"),
                                    "reason": st.column_config.TextColumn("reason", width="large")})
        if report.error_count > len(report.errors):
            st.caption(f"The first {len(report.errors)} errors; {report.error_count - len(report.errors):,} more.")
    for warning in report.warnings:
        st.info(esc(warning), icon="ℹ️")


def _mapping_step(path: Path, file: dict) -> mappings.MappingSpec | None:
    """Suggested (or saved) mapping, editable; returns a valid spec or None."""
    st.subheader("Column mapping")
    st.caption("Tell exq which of your columns is which field. Suggested from your column names; "
               "check it, fix what is wrong, and save it by name to reuse it (here or with "
               "`python -m exq_core import FILE --mapping NAME`).")
    saved = {m["name"]: m["spec"] for m in mappings.list_mappings(store)}
    c1, c2, c3 = st.columns([2, 1, 1])
    base = c1.selectbox("Start from", ["Suggested from this file"] + sorted(saved), key="mapping_base")
    base_spec = saved.get(base)
    encoding = c2.selectbox("Encoding", ["utf-8", "latin-1", "utf-16"],
                            index=["utf-8", "latin-1", "utf-16"].index(base_spec.encoding) if base_spec else 0,
                            key=f"mapping_encoding_{base}")
    delimiters = {"auto": None, "comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
    delim_label = c3.selectbox("Delimiter", list(delimiters), key=f"mapping_delimiter_{base}",
                               index=list(delimiters.values()).index(base_spec.delimiter) if base_spec else 0)
    try:
        headers, samples = _columns(str(path), _stamp(path), encoding, delimiters[delim_label])
    except FeedError as err:
        st.error(f"{esc(file['name'])}: {esc(err)}")
        return None
    suggestion = suggest_mapping(headers, samples)
    chosen = {h: f for h, f in (base_spec.columns.items() if base_spec else suggestion.columns.items())}
    table = pd.DataFrame({
        "their column": headers,
        "example": [(samples.get(h) or [""])[0][:60] for h in headers],
        "exq field": [chosen.get(h, IGNORE) for h in headers],
    })
    edited = st.data_editor(
        table, hide_index=True, width="stretch", disabled=["their column", "example"],
        key=f"mapping_columns_{file['id']}_{base}",
        column_config={"exq field": st.column_config.SelectboxColumn(
            "exq field", options=[IGNORE, *FEED_COLUMNS], required=True,
            help="required: " + ", ".join(REQUIRED_COLUMNS))})
    values_src = base_spec.values if base_spec else suggestion.values
    values = pd.DataFrame([{"field": f, "their value": k, "exq value": v}
                           for f, table_ in values_src.items() for k, v in table_.items()],
                          columns=["field", "their value", "exq value"])
    st.caption("Value translations (e.g. Yes → true, Bezahlt → paid). Leave empty when their values are "
               "already exq's.")
    values = st.data_editor(
        values, hide_index=True, width="stretch", num_rows="dynamic", key=f"mapping_values_{file['id']}_{base}",
        column_config={"field": st.column_config.SelectboxColumn(
            "field", options=["payment_status", "fulfillment_status", "risk_level", "customer_tier",
                              "address_verified", "return_requested", "damage_reported", "currency",
                              "ship_country"])})
    d1, d2, d3, d4 = st.columns(4)
    date_format = d1.text_input("Date format (strptime)", value=(base_spec.date_format if base_spec
                                                                 else suggestion.date_format) or "",
                                placeholder="ISO 8601 — or e.g. %d/%m/%Y %H:%M", key=f"mapping_date_{base}")
    currency = d2.text_input("Default currency", value=(base_spec.default_currency if base_spec else "") or "",
                             placeholder="USD", max_chars=3, key=f"mapping_currency_{base}")
    zones = mappings.time_zones()
    zone = base_spec.time_zone if base_spec else None
    time_zone = d3.selectbox("Their local time zone", zones, index=zones.index(zone) if zone in zones else None,
                             placeholder="UTC", key=f"mapping_zone_{base}",
                             help="The zone a time written without an offset is local to (an ERP's 10:00 in "
                                  "Vienna). A time with an offset or Z keeps it. Empty: such times are UTC.")
    decimal_comma = d4.checkbox("Decimal comma (1.234,56)", key=f"mapping_comma_{base}",
                                value=base_spec.decimal_comma if base_spec else suggestion.decimal_comma)
    columns = {row["their column"]: row["exq field"] for row in edited.to_dict("records")
               if row["exq field"] and row["exq field"] != IGNORE}
    value_maps: dict[str, dict[str, str]] = {}
    for row in values.to_dict("records"):
        if row.get("field") and isinstance(row.get("their value"), str) and isinstance(row.get("exq value"), str):
            value_maps.setdefault(row["field"], {})[row["their value"]] = row["exq value"]
    # invoice lines (quantity × unit price summed per order): kept unless their columns were mapped above
    lines = dict((base_spec.lines if base_spec else suggestion.lines) or {})
    if lines and not set(lines.values()) & set(columns):
        st.caption("Invoice lines, summed per order: " + ", ".join(
            f"{role.replace('_', ' ')} = {esc(col)}" for role, col in lines.items()))
    else:
        lines = {}
    name = base_spec.name if base_spec else re.sub(r"[^A-Za-z0-9 _.\-]", "-", Path(file["name"]).stem)[:60]
    try:
        spec = mappings.parse_spec({
            "name": name or "mapping", "source": base_spec.source if base_spec else None, "columns": columns,
            "values": value_maps, "date_format": date_format.strip() or None, "time_zone": time_zone,
            "default_currency": currency.strip().upper() or None, "decimal_comma": decimal_comma,
            "delimiter": delimiters[delim_label], "encoding": encoding, "lines": lines or None}, "this mapping")
    except FeedError as err:
        st.warning(esc(err))
        return None
    with st.form("save_mapping", border=False):
        s1, s2 = st.columns([3, 1], vertical_alignment="bottom")
        save_as = s1.text_input("Save this mapping as", value=spec.name, max_chars=60)
        s2.form_submit_button("Save mapping", disabled=not can_import, on_click=_clicked, args=("save_mapping",))
        if _was_clicked("save_mapping"):
            try:
                saved_spec = mappings.save_mapping(store, mappings.parse_spec(
                    {**spec.model_dump(), "name": save_as.strip()}, "this mapping"), actor)
                st.toast(f"Saved column mapping “{esc(saved_spec.name)}”.", icon="💾")
                spec = saved_spec
            except (FeedError, NotPermitted) as err:
                st.error(esc(err))
    return spec


def _show_result(result: dict) -> None:
    if result["status"] == "unchanged":
        st.info(esc(result["message"]), icon="🔁")
        return
    by_bucket = result["cases_new_by_bucket"]
    label = "Imported" if result["status"] == "imported" else "Imported the valid rows"
    st.success(f"{label}: **{esc(result['file_name'])}** is import #{result['import_id']}.", icon="✅")
    m = st.columns(5)
    m[0].metric("Rows read", f"{result['rows']:,}")
    m[1].metric("New cases", f"{sum(by_bucket.values()):,}")
    m[2].metric("Updated cases", f"{result['cases_updated']:,}")
    m[3].metric("Routine orders", f"{result['routine']:,}")
    m[4].metric("Rejected rows", f"{result['rejected']:,}")
    st.dataframe(pd.DataFrame([{"bucket": BUCKET_LABELS[b], "new cases": by_bucket.get(b.value, 0)} for b in BUCKETS]),
                 hide_index=True, key="result_buckets")
    st.caption(f"Source {esc(result['source'])}. Orders: {result['orders_new']:,} new, "
               f"{result['orders_updated']:,} updated, {result['orders_stale']:,} older than the stored snapshot "
               f"(ignored), {result['orders_unchanged']:,} unchanged, {result['older_in_file']:,} older snapshots "
               f"in the file left out, {result['conflicts']:,} conflicting snapshots not applied.")
    if result["rejected"]:
        st.download_button("Download the rejected rows to fix and import again (CSV)",
                           _rejects_csv(result["import_id"]), file_name=f"exq-rejects-{result['import_id']}.csv",
                           mime="text/csv", key="result_rejects")


def _source_field(file: dict, fmt: str, spec) -> str | None:
    """Where these orders come from: order ids are unique only within a source. A Shopify export does not
    name its store, so it has to be said here. Returns the valid name, or None (import stays disabled)."""
    known = fresh(import_log.sources)
    default = "" if fmt == "shopify" else (spec.source_name if spec is not None else "feed")
    label = "Store (required: a Shopify export does not name its store)" if fmt == "shopify" else \
        "Source (the shop or ERP these orders come from)"
    # a mapping's field is keyed by the mapping's source too: choosing a saved mapping brings its source,
    # instead of keeping the one the suggested mapping showed first (and importing under that)
    key = f"import_source_{file['id']}_{fmt}" + (f"_{default}" if fmt == "mapped" else "")
    value = st.text_input(label, value=default, key=key, max_chars=60,
                          placeholder="e.g. berlin-shop",
                          help="Order numbers are unique only within one source. Known sources: "
                               + (", ".join(known[:20]) if known else "none yet"))
    if not value.strip():
        st.warning("Name the store these orders come from (one name per store: two stores' #1001 are two orders).")
        return None
    try:
        return SourceName(value).value
    except ValueError as err:
        st.error(esc(err))
        return None


def _import_tab() -> None:
    if not can_import:
        st.info("Importing is for managers. You can see the import history and the inbox.", icon="🔒")
        return
    uploaded = st.file_uploader("Feed file: the generic feed (CSV, Parquet, JSON lines), a Shopify orders "
                                "export, or another layout with a column mapping", type=UPLOAD_TYPES,
                                key="import_upload",
                                help="Up to 200 MB here. Bigger files go into the inbox folder (Inbox tab) "
                                     "or through `python -m exq_core import`.")
    if uploaded is not None:
        st.session_state[FILE_KEY] = _save_upload(uploaded)
    file = st.session_state.get(FILE_KEY)
    if not file or not Path(file["path"]).exists():
        st.caption("Files dropped into the inbox folder are imported automatically — see the Inbox tab.")
        return
    path = Path(file["path"])
    try:
        detected = readers.detect_format(path)
    except OSError as err:
        st.error(f"{esc(file['name'])}: {esc(err)}")
        return
    needs_mapping = False
    if detected in ("csv", "parquet", "jsonl"):
        try:
            headers, _ = _columns(str(path), _stamp(path), None, None)
            known = {h.strip().lower().replace(" ", "_") for h in headers}
            needs_mapping = not set(REQUIRED_COLUMNS) <= known
        except FeedError:
            needs_mapping = False  # the preview below names the problem
    default = "mapped" if needs_mapping else detected
    fmt = st.selectbox("Format", list(FORMATS), index=list(FORMATS).index(default), format_func=FORMATS.get,
                       key=f"import_format_{file['id']}",
                       help=f"Detected: {FORMATS['mapped'] if needs_mapping else FORMATS[detected]}")
    if needs_mapping and fmt != "mapped":
        st.warning("This file does not have the generic feed's required columns "
                   f"({', '.join(REQUIRED_COLUMNS)}): map its columns instead.")
    spec = None
    encoding = None
    if fmt == "mapped":
        spec = _mapping_step(path, file)
        if spec is None:
            return
    elif fmt in ("csv", "shopify"):
        encoding = st.selectbox("Encoding", ["utf-8", "latin-1", "utf-16"], key=f"import_encoding_{file['id']}")
        encoding = None if encoding == "utf-8" else encoding
    source = _source_field(file, fmt, spec)

    st.subheader("Preview and validation")
    try:
        report, rows = _preview(str(path), _stamp(path), fmt, spec.model_dump_json() if spec else None, encoding)
    except ExqError as err:
        st.error(f"**{esc(file['name'])}** cannot be imported: {esc(err)}", icon="🚫")
        return
    _show_report(report)
    st.caption(f"The first {len(rows)} of {report.rows:,} rows as exq will read them (times in UTC; "
               f"blank means unknown).")
    st.dataframe(rows.apply(lambda col: col.map(esc_plain) if col.dtype == object else col), hide_index=True,
                 width="stretch", key="import_preview")

    skip = False
    if not report.ok:
        skip = st.checkbox(f"Skip invalid rows: import the {report.rows - report.invalid_rows:,} valid rows and "
                           f"keep the {report.invalid_rows:,} invalid ones as rejects", key="import_skip")
    st.button(f"Import {esc(file['name'])}", type="primary", disabled=(not report.ok and not skip) or source is None,
              key="import_go", on_click=_clicked, args=("import",))
    if _was_clicked("import"):
        bar = st.progress(0.0, text="starting")
        try:
            result = import_file(store, path, fmt=fmt, mapping=spec, skip_invalid=skip, actor=actor, source=source,
                                 rules=get_rules(), options={"encoding": encoding} if encoding else None,
                                 progress=lambda stage, f: bar.progress(min(1.0, max(0.0, f)), text=stage))
            st.session_state[RESULT_KEY] = {**result.model_dump(), "file_name": file["name"]}
            bar.empty()
            st.cache_data.clear()
        except FeedInvalid as err:
            bar.empty()
            st.error(f"Nothing was imported (recorded as import #{getattr(err, 'import_id', '?')}, refused).")
            _show_report(err.report)
        except ExqError as err:
            bar.empty()
            st.error(f"Nothing was imported: {esc(err)}")
    result = st.session_state.get(RESULT_KEY)
    if result:
        _show_result(result)


# -- history, inbox, mappings -------------------------------------------------------------------------------

STATUS_ICONS = {"imported": "✅ imported", "partial": "⚠️ partial", "unchanged": "🔁 unchanged", "refused": "⛔ refused",
                "failed": "❌ failed"}


def esc_plain(value):
    """Rejected values are the file's text: invisible characters made visible (a table shows no markup)."""
    from ui.format import inert
    return inert(value) if isinstance(value, str) else value


def _history_tab() -> None:
    imports = fresh(import_log.list_imports, 200)
    if not imports:
        st.caption("No imports yet.")
        return
    frame = pd.DataFrame([{
        "#": r["import_id"], "when (UTC)": r["started_at"], "file": esc_plain(r["file_name"]), "source": r["source"],
        "status": STATUS_ICONS.get(r["status"], r["status"]), "format": r["format"] + (f" · {r['mapping']}" if r["mapping"] else ""),
        "rows": r["rows_read"], "new orders": r["orders_new"], "updated": r["orders_updated"],
        "new cases": r["cases_new"], "updated cases": r["cases_updated"], "routine": r["routine"],
        "rejected": r["rejected"], "by": r["actor"]} for r in imports])
    st.dataframe(frame, hide_index=True, width="stretch", key="import_history",
                 column_config={"when (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
    ids = [r["import_id"] for r in imports]
    chosen = st.selectbox("Details of import", ids, key="history_pick",
                          format_func=lambda i: next(f"#{r['import_id']} {r['file_name']} ({r['status']})"
                                                     for r in imports if r["import_id"] == i))
    item = fresh(import_log.get_import, chosen)
    if item is None:
        return
    by_bucket = item["cases_new_by_bucket"] or {}
    if by_bucket:
        st.write("New cases: " + esc(", ".join(f"{BUCKET_LABELS.get(b, b)} {n:,}" for b, n in by_bucket.items())))
    st.caption(f"content hash `{(item['content_hash'] or '')[:16]}…` · source {esc(item['source'])} · rules "
               f"{esc(item['rules_version'])} · by {esc(item['actor'])}")
    if item["message"]:
        label = "Report" if item["status"] in ("refused", "failed") else "Notes"
        st.caption(label)
        st.code(item["message"], language=None, wrap_lines=True)   # a code block shows text as it is
    n = fresh(import_log.count_rejects, chosen)
    if n:
        st.caption(f"{n:,} rejected value(s)")
        rejects = fresh(import_log.rejects_frame, chosen, limit=500)
        st.dataframe(rejects.assign(value=rejects["value"].map(lambda v: esc_plain(v))), hide_index=True,
                     width="stretch", key="history_rejects")
        st.download_button("Download the rejected rows to fix and import again (CSV)", _rejects_csv(chosen),
                           file_name=f"exq-rejects-{chosen}.csv", mime="text/csv", key="history_rejects_csv")


def _inbox_tab() -> None:
    folder = inbox_dir(db_target())
    from ui.inbox import get_inbox_watcher
    watcher = get_inbox_watcher()
    if watcher is None:
        st.warning("The inbox is switched off (EXQ_INBOX=off).")
    else:
        state = "watching" if watcher.running else "stopped"
        last = f", last looked at {watcher.last_pass:%H:%M:%S} UTC" if watcher.last_pass else ""
        st.caption(f"{state} every {watcher.interval:g} s{last}")
        if watcher.last_error:
            st.error(f"The last inbox pass failed: {esc(watcher.last_error)}")
    st.markdown(f"Drop feed files into {md_code(folder)} — while this dashboard runs it owns the database, so "
                "scheduled exports and scripts hand files over here. Each file is imported all-or-nothing within a "
                "minute and moved to `done/`, or to `failed/` with a `.report.txt` beside it.")
    st.markdown("One folder per source: a file in `inbox/berlin-shop/` is imported as source **berlin-shop** "
                "(a Shopify export must go into its store's folder). A source folder can hold an "
                "`exq-inbox.toml` with what the command line would say:")
    st.code('mapping = "erp-de"          # a saved column mapping\nencoding = "latin-1"\n'
            'default_currency = "EUR"\nskip_invalid = false        # true: import the valid rows, keep rejects',
            language="toml")
    files = inbox_files(folder)
    if files["waiting"]:
        st.write("Waiting: " + esc(", ".join(f"{f['source'] + '/' if f['source'] else ''}{f['file']}"
                                             for f in files["waiting"])))
    inbox_imports = fresh(import_log.list_imports, 50, "inbox")
    if inbox_imports:
        st.dataframe(pd.DataFrame([{"#": r["import_id"], "when (UTC)": r["started_at"], "source": r["source"],
                                    "file": esc_plain(r["file_name"]), "status": STATUS_ICONS.get(r["status"], r["status"]),
                                    "rows": r["rows_read"], "new cases": r["cases_new"], "rejected": r["rejected"]}
                                   for r in inbox_imports]),
                     hide_index=True, width="stretch", key="inbox_imports")
    for f in files["failed"][:20]:
        where = f"{f['source']}/" if f["source"] else ""
        with st.expander(f"⛔ {esc(where)}failed/{esc(f['file'])} ({f['modified']:%Y-%m-%d %H:%M} UTC)"):
            st.code(f["report"] or "(no report)", language=None, wrap_lines=True)
    if files["done"]:
        st.caption("Done: " + esc(", ".join(f["file"] for f in files["done"][:20])))


def _mappings_tab() -> None:
    saved = mappings.list_mappings(store)
    if not saved:
        st.caption("No saved column mappings yet. Upload a file in another layout to make one, or save a "
                   "mapping .toml file below.")
    for m in saved:
        with st.expander(f"{esc(m['name'])} — {len(m['spec'].columns)} columns, saved by {esc(m['updated_by'])} "
                         f"{m['updated_at']:%Y-%m-%d %H:%M} UTC"):
            st.code(m["spec"].to_toml(), language="toml")
            if can_import:
                st.button("Delete", key=f"delete_mapping_{m['name']}", on_click=_clicked, args=(f"delete:{m['name']}",))
            if can_import and _was_clicked(f"delete:{m['name']}"):
                mappings.delete_mapping(store, m["name"], actor)
                st.rerun()
    if can_import:
        toml_file = st.file_uploader("Save a mapping from a .toml file", type=["toml"], key="mapping_toml")
        if toml_file is not None:
            st.button("Save it", key="mapping_toml_save", on_click=_clicked, args=("save_toml",))
        if toml_file is not None and _was_clicked("save_toml"):
            with tempfile.TemporaryDirectory() as tmp:
                target = Path(tmp) / Path(toml_file.name).name
                target.write_bytes(toml_file.getbuffer())
                try:
                    spec = mappings.save_mapping(store, mappings.load_toml(target), actor)
                    st.toast(f"Saved column mapping “{esc(spec.name)}”.", icon="💾")
                except (FeedError, NotPermitted) as err:
                    st.error(esc(err))


tab_import, tab_history, tab_inbox, tab_mappings = st.tabs(["Import a file", "History", "Inbox", "Mappings"])
with tab_import:
    _import_tab()
with tab_history:
    _history_tab()
with tab_inbox:
    _inbox_tab()
with tab_mappings:
    _mappings_tab()
