"""The Import page with files of the real-data test set (tests/data/): what the page shows for them — the
validation report, the warnings, the result's metrics — matches what each case's expected.toml says, and so
do the orders it stores. (As in test_import_page.py, the test puts the uploaded file where the uploader
would, in the session.)"""
from __future__ import annotations

from exq_core.ingest.mapping import load_toml, save_mapping
from exq_core.models import SYSTEM
from exq_core.store import open_store
from tests.support import app_test
from tests.real_shapes import load_case, order_differences
from tests.views.test_import_page import PAGE, frame, texts, with_file

LABELS = {"fraud_risk": "Fraud risk", "vip_revenue": "VIP / revenue", "payment_mismatch": "Payment mismatch",
          "inventory_conflict": "Inventory conflict", "address_problem": "Address problem",
          "return_damage": "Return / damage"}


def expected_metrics(imp: dict) -> dict:
    return {"Rows read": str(imp["rows"]), "New cases": str(sum(imp["cases"].values())), "Updated cases": "0",
            "Routine orders": str(imp["routine"]), "Rejected rows": str(imp["rejected"])}


def check_result(at, app_env, case, imp) -> None:
    assert not at.exception
    assert any(f"Imported the valid rows: **{imp['file']}**" in s for s in texts(at.success)), texts(at.error)
    assert {m.label: m.value for m in at.metric} == expected_metrics(imp)
    by_bucket = frame(at, "bucket", "new cases").set_index("bucket")["new cases"].to_dict()
    assert {b: n for b, n in by_bucket.items() if n} == {LABELS[b]: n for b, n in imp["cases"].items()}
    with open_store(app_env) as store:
        assert order_differences(store, case) == []


def test_a_manager_imports_the_erp_export_with_its_saved_mapping(app_env, manager, tmp_path):
    case = load_case("erp-decimal-comma", tmp_path)
    [imp] = case.imports
    with open_store(app_env) as store:
        save_mapping(store, load_toml(case.path(imp["mapping"])), SYSTEM)
    at = with_file(app_test(manager, PAGE), case.path(imp["file"]))
    assert not at.exception
    assert at.selectbox(key=f"import_format_test-{imp['file']}").value == "mapped"
    at.selectbox(key="mapping_base").select("erp-wien").run()
    assert at.text_input(key="mapping_date_erp-wien").value == "%d.%m.%Y %H:%M"
    assert at.checkbox(key="mapping_comma_erp-wien").value is True
    # the saved mapping's source, not the suggested mapping's (the file's name) that showed first
    [source] = [t for t in at.text_input if t.label.startswith("Source")]
    assert source.value == "erp-wien"

    [reject] = case.rejects
    errors = frame(at, "line", "column", "value", "reason")
    assert [(e["line"], e["column"], e["value"]) for e in errors.to_dict("records")] == \
        [(reject["line"], reject["column"], reject["value"])]
    assert reject["reason"] in errors.iloc[0]["reason"]
    for warning in imp["warnings"]:
        assert any(warning in i for i in texts(at.info)), (warning, texts(at.info))
    assert at.button(key="import_go").disabled                     # all-or-nothing until skipping is chosen
    at.checkbox(key="import_skip").check().run()
    at.button(key="import_go").click().run()
    check_result(at, app_env, case, imp)


def test_a_manager_imports_a_shopify_export_naming_its_store(app_env, manager, tmp_path):
    case = load_case("shopify-current", tmp_path)
    [imp] = case.imports
    at = with_file(app_test(manager, PAGE), case.path(imp["file"]))
    assert not at.exception
    assert at.selectbox(key=f"import_format_test-{imp['file']}").value == "shopify"
    [reject] = case.rejects
    errors = frame(at, "line", "column", "value", "reason")
    assert errors.iloc[0][["line", "column", "value"]].tolist() == [reject["line"], reject["column"], reject["value"]]
    for warning in imp["warnings"]:
        assert any(warning in i for i in texts(at.info)), (warning, texts(at.info))
    at.text_input(key=f"import_source_test-{imp['file']}_shopify").input(imp["source"]).run()
    at.checkbox(key="import_skip").check().run()
    at.button(key="import_go").click().run()
    check_result(at, app_env, case, imp)
