"""The words real exports use, as data: header names per field, status and flag words, currency symbols,
country names (English, German, French, Spanish, Dutch and the platforms' own). `suggest` scores files
against them; add a name here when a real export is not understood."""
from __future__ import annotations

# -- header names ----------------------------------------------------------------------------------

# Known header names per field, best first (normalised by `_norm`: case, accents, punctuation and camelCase
# do not matter). A header equal to one scores 0.95 (a little less further down the list).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "order_id": (
        "order id", "order number", "order no", "order nr", "order #", "order ref", "order reference",
        "increment id", "invoice no", "invoice number", "invoice id", "order", "reference", "bestellnummer",
        "bestell nr", "auftragsnummer", "auftrags nr", "auftragsnr", "belegnummer", "beleg nr", "belegnr",
        "rechnungsnummer", "rechnungs nr", "rechnungsnr", "vorgangsnummer", "nr", "no", "number", "#",
        "numéro de commande", "n de commande", "no de commande", "n commande", "numero commande",
        "référence commande", "commande", "número de pedido", "numero pedido", "n pedido", "no pedido",
        "id pedido", "pedido", "ordernummer", "bestelnummer", "order nummer", "factuurnummer"),
    "placed_at": (
        "order date", "created at", "order purchase timestamp", "purchase date", "ordered at", "order time",
        "order created at", "date created", "invoice date", "date", "created", "placed", "order datetime",
        "bestelldatum", "auftragsdatum", "belegdatum", "rechnungsdatum", "datum", "erstellt am",
        "angelegt am", "date de commande", "date commande", "date", "fecha pedido", "fecha de pedido",
        "fecha", "besteldatum", "orderdatum", "factuurdatum"),
    "order_total": (
        "order total", "grand total", "total", "order total amount", "order total inc tax", "total inc tax",
        "order amount", "total amount", "order value", "invoice total", "invoice amount", "amount", "total price",
        "payment value",
        "bruttobetrag", "summe brutto", "betrag brutto", "gesamtbetrag", "gesamt brutto", "rechnungsbetrag",
        "endbetrag", "gesamtsumme", "rechnungssumme", "betrag", "summe", "gesamt", "brutto", "montant ttc", "total ttc",
        "montant total", "montant total ttc", "montant", "importe total", "total pedido", "monto total",
        "importe", "totaalbedrag", "totaal", "bedrag", "totaal incl btw"),
    "currency": (
        "currency code", "order currency", "order currency code", "currency", "base currency code", "curr",
        "währung", "devise", "moneda", "divisa", "valuta"),
    "updated_at": (
        "updated", "modified at", "date modified", "last modified", "changed at", "snapshot time",
        "export time", "geändert am", "änderungsdatum", "letzte änderung", "zuletzt geändert",
        "date de modification", "fecha de modificación", "gewijzigd op"),
    "customer_id": (
        "customer", "customer number", "customer no", "customer nr", "client id", "buyer id", "customer user",
        "customer user id", "kundennummer", "kundennr", "kunden nr", "kunde", "numéro client", "n client",
        "id client", "client", "número de cliente", "id cliente", "cliente", "klantnummer", "klant nr",
        "klant id"),
    "customer_email": (
        "email", "e mail", "mail", "customer mail", "buyer email", "email address", "billing email",
        "e mail adresse", "courriel", "adresse e mail", "correo electrónico", "correo", "e mailadres"),
    "customer_tier": ("tier", "segment", "customer segment", "loyalty tier", "vip", "kundengruppe",
                      "kundensegment"),
    "customer_ltv": ("lifetime value", "ltv", "clv", "customer lifetime value", "kundenwert", "umsatz gesamt",
                     "gesamtumsatz", "kundenumsatz", "chiffre d affaires client", "omzet klant"),
    "payment_status": (
        "financial status", "payment status", "payment state", "payment", "paid", "zahlungsstatus",
        "zahlstatus", "bezahlstatus", "status zahlung", "statut du paiement", "statut paiement",
        "état du paiement", "estado del pago", "estado de pago", "estado pago", "betaalstatus",
        "betalingsstatus"),
    "amount_paid": (
        "amount paid", "paid amount", "total paid", "amount received", "captured", "captured amount",
        "payment amount", "bezahlter betrag", "zahlbetrag", "gezahlt", "montant payé", "importe pagado",
        "betaald bedrag"),
    "amount_refunded": (
        "refunded", "refund amount", "refunded amount", "total refunded", "order refund amount", "refunds",
        "erstattet", "erstattungsbetrag", "montant remboursé", "importe reembolsado", "terugbetaald"),
    "risk_score": ("fraud score", "risk score", "risk", "score", "betrugsrisiko", "risiko", "risikoscore",
                   "risiko score", "betrugsscore", "score de fraude", "score de riesgo"),
    "risk_level": ("risk level", "fraud risk", "risk rating", "risikostufe"),
    "items_ordered": (
        "quantity", "qty", "items", "units", "lineitem quantity", "total quantity", "total qty ordered",
        "item count", "menge", "anzahl", "stückzahl", "quantité", "cantidad", "aantal"),
    "items_available": (
        "stock", "available", "in stock", "inventory", "on hand", "qty available", "lagerbestand", "bestand",
        "verfügbar", "lagermenge", "stock disponible", "existencias", "disponible", "voorraad"),
    "ship_name": (
        "shipping name", "shipping full name", "recipient", "ship to", "ship to name", "delivery name",
        "empfänger", "lieferempfänger", "destinataire", "destinatario", "ontvanger"),
    "ship_address1": (
        "shipping address", "shipping address 1", "shipping address1", "shipping street", "shipping street 1",
        "address", "address 1", "address line 1", "street", "strasse", "straße", "str", "lieferadresse",
        "anschrift", "adresse", "adresse de livraison", "dirección", "direccion de envio", "adres", "straat",
        "afleveradres"),
    "ship_city": ("city", "shipping city", "customer city", "shipping suburb", "town", "ort", "stadt",
                  "lieferort", "ville", "ciudad", "plaats", "woonplaats", "stad"),
    "ship_postal_code": (
        "zip", "postcode", "postal code", "zip code", "shipping zip", "shipping postcode",
        "shipping postal code", "customer zip code prefix", "zip code prefix", "plz", "postleitzahl",
        "code postal", "código postal", "postcode"),
    "ship_country": (
        "shipping country iso2", "country iso2", "country code", "country", "shipping country", "land",
        "lieferland", "pays", "país", "pais"),
    "address_verified": ("address ok", "address valid", "verified address", "avs", "adresse geprüft"),
    "fulfillment_status": (
        "fulfillment status", "fulfilment status", "shipping status", "shipment status", "delivery status",
        "lieferstatus", "versandstatus", "status versand", "statut de livraison", "statut expédition",
        "estado del envío", "estado envío", "verzendstatus", "leverstatus"),
    "return_requested": ("return", "returned", "return request", "rma", "retoure", "rücksendung", "rückgabe",
                         "retour", "devolución"),
    "damage_reported": ("damaged", "damage", "broken", "beschädigt", "schaden", "endommagé", "dañado",
                        "beschadigd"),
    "return_reason": ("reason for return", "rma reason", "retourengrund", "rückgabegrund",
                      "motif de retour", "motivo de devolución", "retourreden"),
    "customer_message": (
        "note", "notes", "message", "comment", "comments", "customer note", "order notes", "remarks",
        "bemerkung", "kommentar", "notiz", "hinweis", "anmerkung", "commentaire", "comentario", "nota",
        "opmerking", "opmerkingen"),
}

# Names that only hint at a field (0.8): taken when nothing better claims the field. Shopify calls its
# order number "Name"; a first name alone is only part of a recipient's name.
WEAK: dict[str, tuple[str, ...]] = {
    "order_id": ("id", "name"),
    "amount_paid": ("paid", "bezahlt"),
    "ship_name": ("name", "customer name", "shipping first name", "shipping 1 first name", "nom", "naam",
                  "nombre"),
}

# A header naming a status without saying which: any enum field may take it; the values decide.
STATUS_NAMES = ("status", "order status", "statut", "statut commande", "estado", "estado pedido",
                "bestellstatus", "auftragsstatus", "belegstatus", "orderstatus", "status bestelling")
STATE_NAMES = ("state", "order state", "état", "zustand")     # or a province: taken only when values fit
STATUS_SCORES = {"fulfillment_status": 0.9, "payment_status": 0.89, "risk_level": 0.85, "customer_tier": 0.85}

# Invoice lines: the columns the importer sums per order.
LINE_NAMES: dict[str, tuple[str, ...]] = {
    "quantity": ("quantity", "qty", "lineitem quantity", "item quantity", "qty ordered", "quantity ordered",
                 "units", "menge", "anzahl", "stückzahl", "quantité", "cantidad", "aantal"),
    "unit_price": ("unit price", "price", "item price", "lineitem price", "price each", "unit cost",
                   "item cost", "sale price", "einzelpreis", "stückpreis", "preis", "prix unitaire", "prix",
                   "precio unitario", "precio", "stukprijs", "prijs"),
    "line_total": ("line total", "line amount", "line value", "line subtotal", "item total", "lineitem total",
                   "extended price", "ext price", "gesamtpreis", "positionsbetrag", "zeilenbetrag",
                   "zeilensumme", "montant ligne", "total ligne", "importe línea", "regeltotaal",
                   "regelbedrag"),
}
# A total whose name says it is the whole order's (not a line's).
ORDER_LEVEL_WORDS = ("order", "grand", "invoice", "rechnung", "beleg", "auftrag", "bestell", "commande",
                     "pedido", "gesamtbetrag", "gesamtsumme", "brutto", "ttc", "payment", "endbetrag")

# Order-level amounts besides the total (Shopify: Subtotal, Shipping, Taxes): with these, a plain "Total"
# is the order's, even when order ids repeat.
ORDER_AMOUNT_NAMES = ("subtotal", "sub total", "shipping", "shipping cost", "shipping amount", "shipping total",
                      "tax", "taxes", "tax total", "tax amount", "discount", "discount amount", "freight",
                      "versandkosten", "mwst", "steuer", "rabatt", "frais de port", "tva", "gastos de envio",
                      "impuestos", "iva", "verzendkosten", "btw", "korting")

# ERP exports name the delivery address part by part after a prefix: "Lieferung PLZ", "Shipping Zip",
# "Versand Ort", "Adresse de livraison Ville".
SHIP_PREFIXES = ("lieferung", "liefer", "lieferadresse", "versand", "shipping", "ship", "ship to", "delivery",
                 "livraison", "adresse de livraison", "envio", "entrega", "levering", "aflevering", "bezorg")
SHIP_PARTS: dict[str, tuple[str, ...]] = {
    "ship_name": ("name", "empfänger", "nom", "nombre", "naam"),
    "ship_address1": ("straße", "strasse", "str", "adresse", "address", "address 1", "street", "anschrift",
                      "rue", "calle", "dirección", "straat", "adres"),
    "ship_city": ("ort", "stadt", "city", "town", "ville", "ciudad", "plaats", "stad"),
    "ship_postal_code": ("plz", "postleitzahl", "zip", "postcode", "postal code", "code postal", "cp",
                         "código postal"),
    "ship_country": ("land", "country", "pays", "país", "pais"),
}


# -- values ------------------------------------------------------------------------------------------

# Status words of real exports (Shopify, WooCommerce, Magento, BigCommerce, Olist, ERPs) → our values.
ENUM_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "payment_status": {
        "pending": ("open", "unpaid", "not paid", "awaiting payment", "pending payment", "payment pending",
                    "on hold", "holded", "payment review", "new", "due", "outstanding", "offen", "unbezahlt",
                    "nicht bezahlt", "ausstehend", "zahlung ausstehend", "en attente", "en attente de paiement",
                    "non payé", "impayé", "pendiente", "pendiente de pago", "no pagado", "openstaand",
                    "niet betaald", "wacht op betaling"),
        "authorized": ("authorised", "approved", "reserved", "autorisiert", "genehmigt", "autorisé",
                       "autorizado", "geautoriseerd"),
        "paid": ("captured", "settled", "succeeded", "success", "complete", "completed", "processing",
                 "payment received", "bezahlt", "beglichen", "gezahlt", "payé", "réglé", "pagado", "cobrado",
                 "betaald", "voldaan"),
        "partially_paid": ("partial", "part paid", "partially captured", "teilweise bezahlt", "teilbezahlt",
                           "anbezahlt", "partiellement payé", "paiement partiel", "parcialmente pagado",
                           "pago parcial", "gedeeltelijk betaald", "deels betaald"),
        "refunded": ("partially refunded", "refund", "credited", "chargeback", "erstattet", "zurückerstattet",
                     "rückerstattet", "gutgeschrieben", "remboursé", "reembolsado", "devuelto", "terugbetaald"),
        "failed": ("declined", "rejected", "error", "denied", "fehlgeschlagen", "abgelehnt", "échoué", "refusé",
                   "fallido", "rechazado", "mislukt", "geweigerd", "afgewezen"),
        "voided": ("void", "cancelled", "canceled", "expired", "storniert", "annulliert", "annulé", "cancelado",
                   "anulado", "geannuleerd", "vervallen"),
    },
    "fulfillment_status": {
        "unfulfilled": ("open", "pending", "new", "created", "processing", "approved", "invoiced", "on hold",
                        "holded", "awaiting fulfillment", "awaiting fulfilment", "awaiting shipment",
                        "awaiting pickup", "awaiting payment", "pending payment", "payment review",
                        "not shipped", "unshipped", "ready to ship", "ready for pickup", "backordered", "fraud",
                        "suspected fraud", "manual verification required", "incomplete", "draft", "offen",
                        "neu", "in bearbeitung", "nicht versendet", "nicht versandt", "versandbereit",
                        "en attente", "en cours", "en préparation", "non expédié", "nouveau", "pendiente",
                        "en proceso", "en preparación", "no enviado", "nuevo", "nieuw", "in behandeling",
                        "niet verzonden"),
        "partial": ("partially shipped", "partially fulfilled", "partially delivered", "partly shipped",
                    "teilweise versendet", "teilweise versandt", "teilweise geliefert", "teilgeliefert",
                    "teillieferung", "partiellement expédié", "expédition partielle", "parcialmente enviado",
                    "envío parcial", "gedeeltelijk verzonden", "deels verzonden"),
        "fulfilled": ("shipped", "sent", "dispatched", "in transit", "out for delivery", "complete", "completed",
                      "closed", "versendet", "versandt", "verschickt", "abgeschlossen", "unterwegs", "expédié",
                      "envoyé", "en transit", "terminé", "enviado", "en tránsito", "completado", "verzonden",
                      "onderweg", "afgerond", "voltooid"),
        "delivered": ("received", "geliefert", "zugestellt", "ausgeliefert", "livré", "reçu", "entregado",
                      "recibido", "geleverd", "afgeleverd", "bezorgd"),
        "canceled": ("cancelled", "unavailable", "declined", "voided", "storniert", "annulliert", "abgebrochen",
                     "annulé", "cancelado", "anulado", "geannuleerd"),
    },
    "risk_level": {
        "low": ("niedrig", "gering", "faible", "bas", "bajo", "laag"),
        "medium": ("moderate", "elevated", "mittel", "moyen", "medio", "gemiddeld"),
        "high": ("very high", "severe", "critical", "hoch", "élevé", "alto", "hoog"),
    },
    "customer_tier": {
        "vip": ("premium", "platinum", "key account"),
        "standard": ("regular", "normal", "basic", "general", "default", "non vip", "no vip", "none"),
    },
}
BOOL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "true": ("ja", "j", "oui", "si", "sí", "x", "✓", "✔", "checked", "on", "wahr", "vrai", "verdadero", "waar"),
    "false": ("nein", "non", "off", "unchecked", "-", "–", "falsch", "faux", "falso", "onwaar", "nee"),
}
CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "us$": "USD", "£": "GBP", "¥": "JPY", "r$": "BRL", "zł": "PLN",
                    "fr": "CHF", "sfr": "CHF", "kč": "CZK", "₹": "INR", "₽": "RUB", "₺": "TRY", "₩": "KRW"}

# ISO 3166 alpha-2, alpha-3 and the names exports use (English, German, French, Spanish, Dutch).
COUNTRIES = """
GB GBR united kingdom|great britain|uk|england|scotland|wales|northern ireland|grossbritannien|vereinigtes koenigreich|royaume uni|reino unido|verenigd koninkrijk
IE IRL ireland|eire|irland|irlande|irlanda|ierland
FR FRA france|frankreich|francia|frankrijk
DE DEU germany|deutschland|allemagne|alemania|duitsland
AT AUT austria|oesterreich|autriche|oostenrijk
CH CHE switzerland|schweiz|suisse|suiza|zwitserland
NL NLD netherlands|the netherlands|holland|niederlande|pays bas|paises bajos|nederland
BE BEL belgium|belgien|belgique|belgica|belgie
LU LUX luxembourg|luxemburg|luxemburgo
ES ESP spain|spanien|espagne|espana|spanje
PT PRT portugal
IT ITA italy|italien|italie|italia|italie
DK DNK denmark|daenemark|danemark|dinamarca|denemarken
SE SWE sweden|schweden|suede|suecia|zweden
NO NOR norway|norwegen|norvege|noruega|noorwegen
FI FIN finland|finnland|finlande|finlandia
IS ISL iceland|island|islande|islandia|ijsland
PL POL poland|polen|pologne|polonia
CZ CZE czech republic|czechia|tschechien|republique tcheque|republica checa|tsjechie
SK SVK slovakia|slowakei|slovaquie|eslovaquia
HU HUN hungary|ungarn|hongrie|hungria|hongarije
SI SVN slovenia|slowenien|slovenie|eslovenia
HR HRV croatia|kroatien|croatie|croacia|kroatie
RO ROU romania|rumaenien|roumanie|rumania|roemenie
BG BGR bulgaria|bulgarien|bulgarie|bulgarije
GR GRC greece|griechenland|grece|grecia|griekenland
CY CYP cyprus|zypern|chypre|chipre
MT MLT malta|malte
EE EST estonia|estland|estonie
LV LVA latvia|lettland|lettonie|letonia|letland
LT LTU lithuania|litauen|lituanie|lituania|litouwen
US USA united states|united states of america|usa|us|america|vereinigte staaten|etats unis|estados unidos|verenigde staten
CA CAN canada|kanada
MX MEX mexico|mexiko|mexique
BR BRA brazil|brasilien|bresil|brasil|brazilie
AR ARG argentina|argentinien|argentine
CL CHL chile|chili
CO COL colombia|kolumbien|colombie
AU AUS australia|australien|australie
NZ NZL new zealand|neuseeland|nouvelle zelande|nueva zelanda|nieuw zeeland
JP JPN japan|japon
CN CHN china|chine
HK HKG hong kong
SG SGP singapore|singapur|singapour
KR KOR south korea|korea|republic of korea|suedkorea|coree du sud|corea del sur|zuid korea
IN IND india|indien|inde
IL ISR israel
AE ARE united arab emirates|uae|vereinigte arabische emirate|emirats arabes unis|emiratos arabes unidos
SA SAU saudi arabia|saudi arabien|arabie saoudite|arabia saudi
BH BHR bahrain|bahrein
LB LBN lebanon|libanon|liban|libano
TR TUR turkey|turkiye|tuerkei|turquie|turquia|turkije
ZA ZAF south africa|rsa|suedafrika|afrique du sud|sudafrica|zuid afrika
RU RUS russia|russian federation|russland|russie|rusia|rusland
UA UKR ukraine|ucrania|oekraine
"""
# Values that say "not known": blank, not a value.
UNKNOWN_NAMES = ("unspecified", "unknown", "n/a", "none", "keine angabe", "unbekannt", "inconnu", "non spécifié",
                 "desconocido", "onbekend")
