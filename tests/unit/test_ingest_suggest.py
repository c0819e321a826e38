"""Mapping suggestions on the header shapes of real exports (samples written here, shaped like them), value-
checked status/money/date columns, invoice lines, and the `lines` part of a MappingSpec."""
from __future__ import annotations

import pytest

from exq_core.errors import FeedError
from exq_core.ingest.mapping import load_toml, parse_spec
from exq_core.ingest.suggest import suggest_mapping


def mapped(suggestion) -> dict[str, str]:
    """field -> their column, to read the assertions the other way round."""
    return {f: h for h, f in suggestion.columns.items()}


# -- real layouts --------------------------------------------------------------------------------------

UCI_HEADERS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
UCI_SAMPLES = {
    "InvoiceNo": ["536365", "536365", "536365", "536366", "536366", "C536379"],
    "StockCode": ["85123A", "71053", "84406B", "22752", "D"],
    "Description": ["WHITE HANGING HEART T-LIGHT HOLDER", "WHITE METAL LANTERN", "Discount"],
    "Quantity": ["6", "8", "2", "32", "-1"],
    "InvoiceDate": ["12/1/2010 8:26", "12/1/2010 8:28", "12/13/2010 9:41"],
    "UnitPrice": ["2.55", "3.39", "7.65", "27.5"],
    "CustomerID": ["17850", "13047", "12583"],
    "Country": ["United Kingdom", "France", "Australia", "EIRE", "Germany", "Unspecified"],
}


def test_uci_online_retail_is_invoice_lines():
    s = suggest_mapping(UCI_HEADERS, UCI_SAMPLES)
    assert s.columns == {"InvoiceNo": "order_id", "InvoiceDate": "placed_at", "CustomerID": "customer_id",
                         "Country": "ship_country"}
    assert s.lines == {"quantity": "Quantity", "unit_price": "UnitPrice"}
    assert s.date_format == "%m/%d/%Y %H:%M" and s.decimal_comma is False        # 12/13: month first
    assert s.values == {"ship_country": {"United Kingdom": "GB", "France": "FR", "Australia": "AU", "EIRE": "IE",
                                         "Germany": "DE", "Unspecified": ""}}
    assert s.confidence["Quantity"] == s.confidence["UnitPrice"] == 0.9          # ids repeat: sure
    spec = s.spec("uci")
    assert spec.lines == {"quantity": "Quantity", "unit_price": "UnitPrice"}
    assert "order_total" not in spec.columns.values() and "items_ordered" not in spec.columns.values()


def test_uci_headers_alone_are_invoice_lines_too():
    s = suggest_mapping(UCI_HEADERS)
    assert s.lines == {"quantity": "Quantity", "unit_price": "UnitPrice"}
    assert mapped(s)["order_id"] == "InvoiceNo" and mapped(s)["placed_at"] == "InvoiceDate"
    assert "Quantity" not in s.columns and "UnitPrice" not in s.columns
    s.spec("uci")                                   # valid without an order total


OLIST_HEADERS = ["order_id", "customer_id", "order_status", "order_purchase_timestamp", "order_approved_at",
                 "order_delivered_customer_date", "payment_sequential", "payment_type", "payment_installments",
                 "payment_value", "price", "freight_value", "customer_zip_code_prefix", "customer_city",
                 "customer_state"]
OLIST_SAMPLES = {
    "order_id": ["e481f51cbdc54678b7cc49136f2d6af7", "53cdb2fc8bc7dce0b6741e2150273451"],
    "customer_id": ["9ef432eb6251297304e76186b10a928d", "b0830fb4747a6c6d20dea0b8c802d7ef"],
    "order_status": ["delivered", "shipped", "canceled", "invoiced", "processing", "unavailable", "approved", "created"],
    "order_purchase_timestamp": ["2017-10-02 10:56:33", "2018-07-24 20:41:37"],
    "order_approved_at": ["2017-10-02 11:07:15", "2018-07-26 03:24:27"],
    "order_delivered_customer_date": ["2017-10-10 21:25:13"],
    "payment_sequential": ["1", "2"],
    "payment_type": ["credit_card", "boleto", "voucher", "debit_card", "not_defined"],
    "payment_installments": ["1", "3", "8"],
    "payment_value": ["18.12", "141.46", "179.12", "72.2"],
    "price": ["29.99", "118.7"], "freight_value": ["8.72", "22.76"],
    "customer_zip_code_prefix": ["03149", "47813"], "customer_city": ["sao paulo", "barreiras"],
    "customer_state": ["SP", "BA", "RJ"],
}


def test_olist_orders_with_payments():
    s = suggest_mapping(OLIST_HEADERS, OLIST_SAMPLES)
    assert s.columns == {"order_id": "order_id", "customer_id": "customer_id", "order_status": "fulfillment_status",
                         "order_purchase_timestamp": "placed_at", "payment_value": "order_total",
                         "customer_zip_code_prefix": "ship_postal_code", "customer_city": "ship_city"}
    assert s.values == {"fulfillment_status": {
        "shipped": "fulfilled", "invoiced": "unfulfilled", "processing": "unfulfilled", "unavailable": "canceled",
        "approved": "unfulfilled", "created": "unfulfilled"}}
    assert s.date_format is None and not s.lines
    s.spec("olist")


def test_a_paid_total_is_the_order_total_when_there_is_no_other():
    """Order-level exports (Olist's orders joined with their payments, summed) carry only `total_paid`."""
    headers = ["order_id", "customer_id", "order_status", "order_purchase_timestamp", "payment_type", "total_paid"]
    samples = {"order_purchase_timestamp": ["2017-10-02 10:56:33"], "total_paid": ["38.71", "141.46"],
               "order_status": ["delivered", "shipped"], "payment_type": ["credit_card", "boleto"]}
    s = suggest_mapping(headers, samples)
    assert s.columns["total_paid"] == "order_total" and "amount_paid" not in s.columns.values()
    s.spec("olist-paid")                                      # importable as it is
    # with an order total beside it, a paid total is what was paid
    s = suggest_mapping(["Order No", "Date", "Order Total", "Total Paid"],
                        {"Order Total": ["10.00"], "Total Paid": ["8.00"]})
    assert (s.columns["Order Total"], s.columns["Total Paid"]) == ("order_total", "amount_paid")


def test_payment_type_is_a_method_not_a_status():
    s = suggest_mapping(OLIST_HEADERS, OLIST_SAMPLES)
    assert "payment_type" not in s.columns and "payment_status" not in s.columns.values()
    # even a header that names the payment status is not taken when its values are methods
    s = suggest_mapping(["Order No", "Date", "Total", "Payment", "Financial Status"],
                        {"Payment": ["Visa", "PayPal", "Klarna"], "Financial Status": ["credit_card", "boleto"]})
    assert s.columns == {"Order No": "order_id", "Date": "placed_at", "Total": "order_total"}


def test_a_status_column_goes_where_its_values_fit():
    s = suggest_mapping(["Order No", "Date", "Total", "Status"], {"Status": ["low", "High", "medium"]})
    assert s.columns["Status"] == "risk_level" and s.values == {}
    s = suggest_mapping(["Order No", "Date", "Total", "Status"], {"Status": ["Paid", "Refunded", "Authorized"]})
    assert s.columns["Status"] == "payment_status"
    s = suggest_mapping(["Order No", "Date", "Total", "Status"], {"Status": ["Shipped", "Delivered", "Open"]})
    assert s.columns["Status"] == "fulfillment_status"
    assert s.values["fulfillment_status"] == {"Shipped": "fulfilled", "Open": "unfulfilled"}


def test_a_status_with_a_value_that_translates_to_nothing_is_left_unmapped():
    s = suggest_mapping(["Order No", "Date", "Total", "Fulfillment Status"],
                        {"Fulfillment Status": ["shipped", "delivered", "teleported"]})
    assert "Fulfillment Status" not in s.columns and "fulfillment_status" not in s.values


def test_woocommerce_order_export():
    headers = ["Order Number", "Order Status", "Order Date", "Order Currency", "Order Subtotal Amount",
               "Order Shipping Amount", "Order Refund Amount", "Order Total Amount", "Billing Email",
               "Shipping First Name", "Shipping Last Name", "Shipping Address 1", "Shipping City",
               "Shipping Postcode", "Shipping Country", "Payment Method Title", "Customer Note", "Item Name",
               "Quantity", "Item Cost"]
    samples = {
        "Order Number": ["1021", "1022"],
        "Order Status": ["Processing", "Completed", "On hold", "Pending payment", "Cancelled", "Refunded", "Failed"],
        "Order Date": ["2024-03-05 14:22:10", "2024-03-06 09:01:44"], "Order Currency": ["USD", "EUR"],
        "Order Subtotal Amount": ["40.00"], "Order Shipping Amount": ["5.00"], "Order Refund Amount": ["0.00", "12.50"],
        "Order Total Amount": ["45.00", "1,204.90"], "Billing Email": ["ann@example.com"],
        "Shipping First Name": ["Ann"], "Shipping Address 1": ["1 Main St"], "Shipping City": ["Springfield"],
        "Shipping Postcode": ["12345"], "Shipping Country": ["US", "DE"],
        "Payment Method Title": ["Credit Card (Stripe)", "PayPal", "Direct bank transfer"],
        "Customer Note": ["Leave at the door"], "Item Name": ["Mug"], "Quantity": ["1", "2"], "Item Cost": ["20.00"]}
    s = suggest_mapping(headers, samples)
    assert s.columns == {
        "Order Number": "order_id", "Order Status": "payment_status", "Order Date": "placed_at",
        "Order Currency": "currency", "Order Refund Amount": "amount_refunded", "Order Total Amount": "order_total",
        "Billing Email": "customer_email", "Shipping First Name": "ship_name", "Shipping Address 1": "ship_address1",
        "Shipping City": "ship_city", "Shipping Postcode": "ship_postal_code", "Shipping Country": "ship_country",
        "Customer Note": "customer_message", "Quantity": "items_ordered"}
    # WooCommerce's statuses are payment states (refunded / failed have no fulfilment meaning)
    assert s.values == {"payment_status": {"Processing": "paid", "Completed": "paid", "On hold": "pending",
                                           "Pending payment": "pending", "Cancelled": "voided"}}
    assert s.confidence["Shipping First Name"] < s.confidence["Shipping City"]        # a first name is weak
    assert not s.lines and not s.decimal_comma
    s.spec("woo")


def test_magento_sales_orders():
    headers = ["entity_id", "increment_id", "created_at", "updated_at", "status", "state", "customer_email",
               "base_currency_code", "base_grand_total", "grand_total", "total_paid", "total_refunded",
               "total_qty_ordered"]
    samples = {
        "entity_id": ["1", "2"], "increment_id": ["000000001", "000000002"],
        "created_at": ["2023-04-01 10:00:00"], "updated_at": ["2023-04-02 10:00:00"],
        "status": ["pending", "processing", "complete", "closed", "canceled", "holded", "payment_review",
                   "pending_payment", "fraud"],
        "state": ["new", "processing", "complete", "closed", "canceled", "holded"],
        "customer_email": ["x@example.com"], "base_currency_code": ["USD"], "base_grand_total": ["100.0000"],
        "grand_total": ["92.5000"], "total_paid": ["92.5000"], "total_refunded": ["0.0000"],
        "total_qty_ordered": ["2.0000"]}
    s = suggest_mapping(headers, samples)
    assert s.columns == {
        "increment_id": "order_id", "created_at": "placed_at", "updated_at": "updated_at",
        "status": "fulfillment_status", "customer_email": "customer_email", "base_currency_code": "currency",
        "grand_total": "order_total", "total_paid": "amount_paid", "total_refunded": "amount_refunded",
        "total_qty_ordered": "items_ordered"}
    assert s.values["fulfillment_status"]["complete"] == "fulfilled"
    assert s.values["fulfillment_status"]["payment_review"] == "unfulfilled"
    assert "state" not in s.columns          # "closed" has no payment status of its own: left to the user
    s.spec("magento")


def test_german_erp_export_with_decimal_commas_and_day_first_dates():
    headers = ["Belegnummer", "Belegdatum", "Kundennr", "Name", "Straße", "PLZ", "Ort", "Land", "Währung",
               "Bruttobetrag", "Nettobetrag", "Zahlungsart", "Zahlungsstatus", "Versandstatus", "Menge",
               "Lagerbestand", "Bemerkung", "Retoure"]
    samples = {
        "Belegnummer": ["RE-2026-0001", "RE-2026-0002"], "Belegdatum": ["03.04.2026 14:05", "05.04.2026 09:12"],
        "Kundennr": ["K1001", "K1002"], "Name": ["Müller GmbH", "Erika Mustermann"], "Straße": ["Hauptstr. 1"],
        "PLZ": ["10115"], "Ort": ["Berlin"], "Land": ["Deutschland", "Österreich", "DE"], "Währung": ["EUR"],
        "Bruttobetrag": ["1.234,56", "99,90", "12"], "Nettobetrag": ["1.037,45", "83,95"],
        "Zahlungsart": ["Rechnung", "PayPal", "Vorkasse", "Lastschrift"],
        "Zahlungsstatus": ["bezahlt", "offen", "teilweise bezahlt", "erstattet"],
        "Versandstatus": ["versendet", "offen", "zugestellt", "storniert"], "Menge": ["1", "3"],
        "Lagerbestand": ["12", "0"], "Bemerkung": ["Bitte klingeln"], "Retoure": ["ja", "nein"]}
    s = suggest_mapping(headers, samples)
    assert s.columns == {
        "Belegnummer": "order_id", "Belegdatum": "placed_at", "Kundennr": "customer_id", "Name": "ship_name",
        "Straße": "ship_address1", "PLZ": "ship_postal_code", "Ort": "ship_city", "Land": "ship_country",
        "Währung": "currency", "Bruttobetrag": "order_total", "Zahlungsstatus": "payment_status",
        "Versandstatus": "fulfillment_status", "Menge": "items_ordered", "Lagerbestand": "items_available",
        "Bemerkung": "customer_message", "Retoure": "return_requested"}
    assert s.values == {
        "ship_country": {"Deutschland": "DE", "Österreich": "AT"},
        "payment_status": {"bezahlt": "paid", "offen": "pending", "teilweise bezahlt": "partially_paid",
                           "erstattet": "refunded"},
        "fulfillment_status": {"versendet": "fulfilled", "offen": "unfulfilled", "zugestellt": "delivered",
                               "storniert": "canceled"},
        "return_requested": {"ja": "true", "nein": "false"}}
    assert s.date_format == "%d.%m.%Y %H:%M" and s.decimal_comma is True
    assert not s.lines
    s.spec("erp")


@pytest.mark.parametrize("headers, expected", [
    (["Nr", "Bestelldatum", "Summe brutto", "Währung", "Kundennummer", "Zahlungsstatus"],
     ["order_id", "placed_at", "order_total", "currency", "customer_id", "payment_status"]),
    (["Auftragsnummer", "Datum", "Betrag", "Kunden-Nr.", "E-Mail-Adresse", "Stückzahl"],
     ["order_id", "placed_at", "order_total", "customer_id", "customer_email", "items_ordered"]),
    (["Rechnungsnummer", "Rechnungsdatum", "Rechnungsbetrag", "Postleitzahl", "Lieferland", "Geändert am"],
     ["order_id", "placed_at", "order_total", "ship_postal_code", "ship_country", "updated_at"]),
    (["Numéro de commande", "Date de commande", "Montant TTC", "Devise", "Code postal", "Ville", "Pays", "Quantité"],
     ["order_id", "placed_at", "order_total", "currency", "ship_postal_code", "ship_city", "ship_country",
      "items_ordered"]),
    (["N° de commande", "Statut du paiement", "Montant total", "Date"],
     ["order_id", "payment_status", "order_total", "placed_at"]),
    (["Número de pedido", "Fecha pedido", "Importe total", "Moneda", "Estado del pago", "Ciudad", "País", "Cantidad"],
     ["order_id", "placed_at", "order_total", "currency", "payment_status", "ship_city", "ship_country",
      "items_ordered"]),
    (["Ordernummer", "Besteldatum", "Totaalbedrag", "Valuta", "Betaalstatus", "Verzendstatus", "Postcode",
      "Plaats", "Aantal", "Voorraad"],
     ["order_id", "placed_at", "order_total", "currency", "payment_status", "fulfillment_status",
      "ship_postal_code", "ship_city", "items_ordered", "items_available"]),
    (["Order ID", "Order Date", "Date Modified", "Order Total (inc tax)", "Order Total (ex tax)",
      "Order Currency Code", "Total Quantity", "Shipping Street 1", "Shipping Suburb", "Shipping Zip",
      "Customer Message", "Refund Amount"],
     ["order_id", "placed_at", "updated_at", "order_total", None, "currency", "items_ordered", "ship_address1",
      "ship_city", "ship_postal_code", "customer_message", "amount_refunded"]),
])
def test_erp_and_platform_header_names(headers, expected):
    s = suggest_mapping(headers)
    assert [s.columns.get(h) for h in headers] == expected


def test_french_spanish_dutch_values_translate():
    s = suggest_mapping(["N° de commande", "Date", "Montant TTC", "Statut", "Pays"],
                        {"Date": ["04/05/2024", "28/05/2024"], "Montant TTC": ["12,50", "1 234,00"],
                         "Statut": ["Expédié", "Livré", "Annulé", "En cours"], "Pays": ["France", "Belgique"]})
    assert s.values == {"fulfillment_status": {"Expédié": "fulfilled", "Livré": "delivered", "Annulé": "canceled",
                                               "En cours": "unfulfilled"},
                        "ship_country": {"France": "FR", "Belgique": "BE"}}
    assert s.date_format == "%d/%m/%Y" and s.decimal_comma
    s = suggest_mapping(["Número de pedido", "Fecha", "Importe total", "Estado del pago"],
                        {"Estado del pago": ["Pagado", "Pendiente", "Reembolsado"]})
    assert s.values == {"payment_status": {"Pagado": "paid", "Pendiente": "pending", "Reembolsado": "refunded"}}
    s = suggest_mapping(["Ordernummer", "Besteldatum", "Totaalbedrag", "Verzendstatus"],
                        {"Verzendstatus": ["Verzonden", "Geleverd", "Geannuleerd"]})
    assert s.values == {"fulfillment_status": {"Verzonden": "fulfilled", "Geleverd": "delivered",
                                               "Geannuleerd": "canceled"}}


def test_bigcommerce_prefers_the_iso_country_column_and_reads_its_dates():
    headers = ["Order ID", "Order Status", "Order Date", "Order Total (inc tax)", "Payment Method",
               "Shipping Country", "Shipping Country ISO2"]
    s = suggest_mapping(headers, {
        "Order Status": ["Awaiting Fulfillment", "Shipped", "Completed", "Cancelled", "Partially Shipped"],
        "Order Date": ["Mon, 23 Sep 2024 14:21:24 +0000", "Tue, 24 Sep 2024 08:00:00 +0000"],
        "Payment Method": ["Credit Card", "PayPal"], "Shipping Country": ["United States", "Germany"],
        "Shipping Country ISO2": ["US", "DE"]})
    assert s.columns["Shipping Country ISO2"] == "ship_country" and "Shipping Country" not in s.columns
    assert s.columns["Order Status"] == "fulfillment_status" and "Payment Method" not in s.columns
    assert s.values["fulfillment_status"]["Partially Shipped"] == "partial"
    assert s.date_format == "%a, %d %b %Y %H:%M:%S %z"


# -- values must fit ------------------------------------------------------------------------------------

def test_free_text_and_ids_are_not_money_or_dates():
    s = suggest_mapping(["Order Ref", "Date", "Total", "Amount", "Created"],
                        {"Date": ["see notes", "yesterday"], "Total": ["n/a", "ask Bob"], "Amount": ["12.00"],
                         "Created": ["2026-01-02T10:00:00Z"], "Order Ref": ["A-1"]})
    assert s.columns == {"Order Ref": "order_id", "Amount": "order_total", "Created": "placed_at"}
    s = suggest_mapping(["Nr", "Belegnummer", "Datum", "Betrag"],
                        {"Belegnummer": ["RE-0001"], "Betrag": ["RE-0001", "RE-0002"], "Datum": ["K-77"]})
    assert "Betrag" not in s.columns and "Datum" not in s.columns


def test_a_known_name_of_one_field_does_not_drift_to_another():
    s = suggest_mapping(["Order No", "customer_state", "payment_type", "state"])
    assert s.columns == {"Order No": "order_id"}


@pytest.mark.parametrize("money, comma", [
    (["12,50"], True),
    (["1.234,56", "7"], True),
    (["1 234,00"], True),
    (["0,125"], True),
    (["12.50"], False),
    (["1,234.56"], False),
    (["1.234"], False),                     # thousands or decimals: nothing says which
    (["1.234", "12,50"], True),             # … the other amounts say comma
    (["1.234", "12.50"], False),            # … or point
    (["12,50", "12.50"], False),            # both clearly: no decimal comma
    (["1.234.567"], True),                  # dots grouping thousands
    (["1,234,567", "1.234"], False),
    (["EUR 12,50", "€ 3,00"], True),
    (["17", "5"], False),
])
def test_decimal_comma_only_when_the_amounts_say_so(money, comma):
    s = suggest_mapping(["Order No", "Date", "Total"], {"Total": money})
    assert s.decimal_comma is comma


def test_a_second_date_column_settles_day_or_month_first():
    s = suggest_mapping(["Order No", "Order Date", "Updated", "Total"],
                        {"Order Date": ["03/04/2026 10:00"], "Updated": ["04/25/2026 09:00"]})
    assert s.date_format == "%m/%d/%Y %H:%M"
    s = suggest_mapping(["Order No", "Order Date", "Updated", "Total"],
                        {"Order Date": ["03/04/2026 10:00"], "Updated": ["25/04/2026 09:00"]})
    assert s.date_format == "%d/%m/%Y %H:%M"


# -- invoice lines --------------------------------------------------------------------------------------

def test_repeating_order_ids_make_a_plain_total_the_line_total():
    s = suggest_mapping(["Order No", "Date", "SKU", "Qty", "Price", "Total"],
                        {"Order No": ["A1", "A1", "A2"], "Date": ["2026-01-01"], "Qty": ["1", "2"],
                         "Price": ["2.50"], "Total": ["5.00", "2.50"]})
    assert s.lines == {"quantity": "Qty", "unit_price": "Price", "line_total": "Total"}
    assert s.columns == {"Order No": "order_id", "Date": "placed_at"}
    assert s.spec("lines").lines == s.lines


def test_an_order_total_means_no_lines():
    headers = ["Order No", "Date", "SKU", "Qty", "Price", "Total"]
    s = suggest_mapping(headers, {"Order No": ["A1", "A2"], "Qty": ["1", "2"], "Price": ["2.50"], "Total": ["5.00"]})
    assert not s.lines and s.columns["Qty"] == "items_ordered" and s.columns["Total"] == "order_total"
    # Shopify: one row per line item, but Total (next to Subtotal, Shipping, Taxes) is the order's
    s = suggest_mapping(["Name", "Email", "Financial Status", "Subtotal", "Shipping", "Taxes", "Total", "Created at",
                         "Lineitem quantity", "Lineitem name", "Lineitem price"],
                        {"Name": ["#1001", "#1001", "#1002"], "Lineitem quantity": ["1", "2"],
                         "Lineitem price": ["20.00"], "Total": ["54.50"]})
    assert not s.lines and s.columns["Total"] == "order_total"
    assert s.columns["Lineitem quantity"] == "items_ordered" and "Lineitem price" not in s.columns
    # an explicit order-level total, even with repeating ids
    s = suggest_mapping(["Invoice No", "Invoice Date", "Quantity", "Unit Price", "Invoice Total"],
                        {"Invoice No": ["1", "1", "2"], "Quantity": ["3"], "Unit Price": ["1.50"]})
    assert not s.lines and s.columns["Invoice Total"] == "order_total"


def test_line_totals_with_quantities_and_german_names():
    s = suggest_mapping(["Belegnummer", "Belegdatum", "Artikel", "Menge", "Einzelpreis", "Gesamtpreis"],
                        {"Menge": ["1", "2"], "Einzelpreis": ["9,99"], "Gesamtpreis": ["19,98", "9,99"],
                         "Belegdatum": ["03.04.2026"]})
    assert s.lines == {"quantity": "Menge", "unit_price": "Einzelpreis", "line_total": "Gesamtpreis"}
    assert s.columns == {"Belegnummer": "order_id", "Belegdatum": "placed_at"}
    assert s.decimal_comma is True and s.date_format == "%d.%m.%Y"


def test_no_quantity_no_lines():
    s = suggest_mapping(["order_id", "order_purchase_timestamp", "price", "freight_value"],
                        {"order_id": ["a", "a", "b"], "price": ["29.99"], "freight_value": ["8.72"]})
    assert not s.lines


# -- MappingSpec.lines ------------------------------------------------------------------------------------

LINES_BASE = {"name": "uci", "columns": {"InvoiceNo": "order_id", "InvoiceDate": "placed_at"}}


@pytest.mark.parametrize("lines", [
    {"quantity": "Quantity", "unit_price": "UnitPrice"},
    {"line_total": "Amount"},
    {"quantity": "Quantity", "line_total": "Amount"},
    {"quantity": "Quantity", "unit_price": "UnitPrice", "line_total": "Amount"},
])
def test_lines_make_the_order_total_optional(lines):
    spec = parse_spec({**LINES_BASE, "lines": lines})
    assert spec.lines == lines and "order_total" not in spec.columns.values()


@pytest.mark.parametrize("lines, message", [
    ({"quantity": "Quantity"}, "lines needs a quantity and a unit_price column, or a line_total column"),
    ({"unit_price": "UnitPrice"}, "lines needs a quantity and a unit_price column, or a line_total column"),
    ({}, "lines needs a quantity and a unit_price column, or a line_total column"),
    ({"unit_price": "UnitPrice", "line_total": "Amount"}, "a unit_price needs a quantity column"),
    ({"quantity": "Qty", "unit_price": "qty"}, "each role needs a column of its own"),
    ({"quantity": "Quantity", "price": "UnitPrice"}, "lines.price"),
    ({"quantity": "InvoiceNo", "unit_price": "UnitPrice"}, "a lines column cannot also be mapped in columns: InvoiceNo"),
    ({"quantity": "Quantity", "unit_price": "x\x00y"}, "lines.unit_price"),
])
def test_invalid_lines(lines, message):
    with pytest.raises(FeedError) as info:
        parse_spec({**LINES_BASE, "lines": lines})
    assert message in str(info.value)


def test_without_lines_the_order_total_is_still_required():
    with pytest.raises(FeedError, match="required field\\(s\\) not mapped: order_total"):
        parse_spec(LINES_BASE)
    with pytest.raises(FeedError, match="required field\\(s\\) not mapped: order_total"):
        parse_spec({**LINES_BASE, "lines": None})


def test_lines_with_an_order_total_column_too():
    spec = parse_spec({"name": "shop", "columns": {"Name": "order_id", "Created at": "placed_at", "Total": "order_total"},
                       "lines": {"quantity": "Lineitem quantity", "line_total": "Lineitem total"}})
    assert spec.lines["line_total"] == "Lineitem total"


def test_lines_round_trip_through_toml(tmp_path):
    spec = parse_spec({**LINES_BASE, "lines": {"quantity": "Quantity", "unit_price": "UnitPrice"}})
    text = spec.to_toml()
    assert "[lines]" in text and 'quantity = "Quantity"' in text
    path = tmp_path / "uci.toml"
    path.write_text(text)
    assert load_toml(path) == spec
    assert "lines" not in parse_spec({**LINES_BASE, "columns": {**LINES_BASE["columns"], "Amt": "order_total"}}).to_toml()


def test_a_suggestion_with_lines_can_be_overridden_into_a_plain_spec():
    s = suggest_mapping(UCI_HEADERS, UCI_SAMPLES)
    spec = s.spec("plain", lines=None, columns={**s.columns, "UnitPrice": "order_total", "Quantity": "items_ordered"})
    assert spec.lines is None and spec.columns["UnitPrice"] == "order_total"


def test_an_erp_names_the_delivery_address_part_by_part_after_a_prefix():
    headers = ["Belegnr", "Belegdatum", "Bruttobetrag", "Lieferung Name", "Lieferung Straße", "Lieferung PLZ",
               "Lieferung Ort", "Lieferung Land", "Risikoscore", "Umsatz gesamt", "Shipping Zip", "Sachbearbeiter"]
    got = mapped(suggest_mapping(headers, {"Bruttobetrag": ["1.234,50", "12,00"]}))
    assert got["ship_name"] == "Lieferung Name" and got["ship_address1"] == "Lieferung Straße"
    assert got["ship_postal_code"] in ("Lieferung PLZ", "Shipping Zip") and got["ship_city"] == "Lieferung Ort"
    assert got["ship_country"] == "Lieferung Land"
    assert got["risk_score"] == "Risikoscore" and got["customer_ltv"] == "Umsatz gesamt"
    assert "Sachbearbeiter" not in got.values()


def test_one_stray_decimal_point_does_not_turn_a_decimal_comma_file_over():
    amounts = ["1.234,50", "12,00", "99,90", "5,00", "250,00", "17,45", "3,99", "8,10", "64,00", "12.50"]
    assert suggest_mapping(["Nr", "Datum", "Betrag"], {"Betrag": amounts}).decimal_comma is True
    half = ["12,50", "13.50", "14,50", "15.50"]
    assert suggest_mapping(["Nr", "Datum", "Betrag"], {"Betrag": half}).decimal_comma is False
