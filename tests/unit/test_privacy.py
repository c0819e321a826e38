"""Masking of free customer text before it goes to a model (SPEC §5), and plain text.

Every expected output below was written by hand from the message, not produced by the code: the corpus is
the specification. Phone numbers, card numbers and IBANs are the published test/fiction ranges (Ofcom drama
numbers, NANP 555-01xx, the issuers' test cards, the banks' documentation IBANs).
"""
from __future__ import annotations

import pytest

from exq_core.assist.privacy import customer_text, known_personal, mask_text, plain_text

# -- messages that carry personal data: (language, message, expected) ------------------------------------

CORPUS = [
    # English
    ("en", "Hi, please call me on +44 20 7946 0958 or email ada.lovelace@example.com about order #1050.",
     "Hi, please call me on [phone] or email [email] about order #1050."),
    ("en", "My new address is Flat 3, 12 High Street, London SW1A 1AA. Order EXQ-100123.",
     "My new address is [street], London [postcode]. Order EXQ-100123."),
    ("en", "Ship it to 1600 Pennsylvania Ave NW, Washington, DC 20500 instead. I paid $12.00 for shipping.",
     "Ship it to [street], Washington, DC [postcode] instead. I paid $12.00 for shipping."),
    ("en", "Please refund to my card 4111 1111 1111 1111, the charge of $49.99 was wrong.",
     "Please refund to my card [card], the charge of $49.99 was wrong."),
    ("en", "Card was 5555-5555-5555-4444 exp 12/27, order 4711.",
     "Card was [card] exp 12/27, order 4711."),
    ("en", "Refund to account number 12345678, sort code 20-00-00 please.",
     "Refund to account number [account], sort code [account] please."),
    ("en", "Verification: my DOB is 14/07/1988 and the parcel was delivered on 12/03/2026.",
     "Verification: my DOB is [dob] and the parcel was delivered on 12/03/2026."),
    ("en", "Send it c/o Mary Smith, Apt 4B, 350 Fifth Avenue, New York, NY 10118.",
     "Send it c/o [name], [street], New York, NY [postcode]."),
    ("en", "I'm in Austin, TX 78701 now; my cell is (512) 555-0147.",
     "I'm in Austin, TX [postcode] now; my cell is [phone]."),
    ("en", "Moving to 200 King Street West, Toronto, ON M5V 2T6 next week.",
     "Moving to [street], Toronto, ON [postcode] next week."),
    ("en", "Wrong size. Born 3 March 1990 if you need to check my identity.",
     "Wrong size. Born [dob] if you need to check my identity."),
    ("en", "Please send the refund of £35.00 to GB29 NWBK 6016 1331 9268 19 (order 1050).",
     "Please send the refund of £35.00 to [iban] (order 1050)."),
    ("en", "D.O.B. 1985-02-28, routing number 021000021, acct 000123456789.",
     "D.O.B. [dob], routing number [account], acct [account]."),
    ("en", "Leave it with the neighbour at 221B Baker Street, Suite 5. Call 0151 496 0000 after 6pm.",
     "Leave it with the neighbour at [street]. Call [phone] after 6pm."),
    ("en", "I was born in Leeds on 1 Jan 1990; deliver to 1 Infinite Loop, Suite 200, Cupertino, CA 95014.",
     "I was born in Leeds on [dob]; deliver to [street], Cupertino, CA [postcode]."),
    # German
    ("de", "Hallo, meine neue Adresse: Kurfürstendamm 21, 10719 Berlin. Bestellung 12345.",
     "Hallo, meine neue Adresse: [street], [postcode] Berlin. Bestellung 12345."),
    ("de", "Bitte die Erstattung von 1.234,56 EUR auf mein Konto DE89 3704 0044 0532 0130 00 überweisen.",
     "Bitte die Erstattung von 1.234,56 EUR auf mein Konto [iban] überweisen."),
    ("de", "Erreichbar unter 0170 1234567 oder +49 30 12345678. Geburtsdatum: 02.05.1979.",
     "Erreichbar unter [phone] oder [phone]. Geburtsdatum: [dob]."),
    ("de", "Ich wohne jetzt in der Hauptstraße 5a, Wohnung 3, 80331 München.",
     "Ich wohne jetzt in der [street], [postcode] München."),
    ("de", "Geboren am 7. Juli 1985. Bitte das Paket c/o Familie Müller abgeben.",
     "Geboren am [dob]. Bitte das Paket c/o [name] abgeben."),
    ("de", "Neue Anschrift: Berliner Straße 12, PLZ 60311. Kontonummer 1234567890, Mail an max@beispiel.de",
     "Neue Anschrift: [street], PLZ [postcode]. Kontonummer [account], Mail an [email]"),
    ("de", "Ich bin am 01.01.1990 geboren und wohne in der Karl-Marx-Straße 5, 12043 Berlin.",
     "Ich bin am [dob] geboren und wohne in der [street], [postcode] Berlin."),
    # French
    ("fr", "Bonjour, je suis née le 12/05/1990. Ma commande 4711 livrée le 3 mars n'est pas arrivée.",
     "Bonjour, je suis née le [dob]. Ma commande 4711 livrée le 3 mars n'est pas arrivée."),
    ("fr", "Nouvelle adresse : 12 rue de Rivoli, 75001 Paris. Tél. 06 12 34 56 78.",
     "Nouvelle adresse : [street], [postcode] Paris. Tél. [phone]."),
    ("fr", "Merci de rembourser 49,90 € sur mon compte FR14 2004 1010 0505 0001 3M02 606.",
     "Merci de rembourser 49,90 € sur mon compte [iban]."),
    ("fr", "Écrivez-moi à jean.dupont@exemple.fr ou appelez le +33 6 12 34 56 78.",
     "Écrivez-moi à [email] ou appelez le [phone]."),
    ("fr", "Livrer Rue de Rivoli 12, Appartement 5, 75004 Paris. Date de naissance : 1er avril 1975.",
     "Livrer [street], [postcode] Paris. Date de naissance : [dob]."),
    ("fr", "Carte bancaire 3782 822463 10005, commande EXQ-100123 du 2026-11-27.",
     "Carte bancaire [card], commande EXQ-100123 du 2026-11-27."),
    # Spanish
    ("es", "Hola, mi nueva dirección es Calle Mayor 5, 3º, 28013 Madrid. Pedido 12345.",
     "Hola, mi nueva dirección es [street], [postcode] Madrid. Pedido 12345."),
    ("es", "Mi móvil es 612 345 678 y mi correo ana.garcia@ejemplo.es.",
     "Mi móvil es [phone] y mi correo [email]."),
    ("es", "Fecha de nacimiento: 23 de abril de 1982. El paquete llegó el 2026-11-27 roto.",
     "Fecha de nacimiento: [dob]. El paquete llegó el 2026-11-27 roto."),
    ("es", "Devolución de 89,95 € a la cuenta ES91 2100 0418 4502 0005 1332, por favor.",
     "Devolución de 89,95 € a la cuenta [iban], por favor."),
    ("es", "Número de cuenta: 2100 0418 45 0200051332 (pedido EXQ-100123). Nacido el 5/6/1970.",
     "Número de cuenta: [account] (pedido EXQ-100123). Nacido el [dob]."),
    ("es", "Envíenlo a C/ Gran Vía 28, 2º B, 28013 Madrid, teléfono 91 123 45 67.",
     "Envíenlo a [street], [postcode] Madrid, teléfono [phone]."),
    # Italian
    ("it", "Buongiorno, abito in Via Roma 10, 00184 Roma. Il mio cellulare è 333 123 4567.",
     "Buongiorno, abito in [street], [postcode] Roma. Il mio cellulare è [phone]."),
    ("it", "Data di nascita 15/08/1980; ordine 4711 consegnato il 12/03/2026, importo 1.234,56 EUR.",
     "Data di nascita [dob]; ordine 4711 consegnato il 12/03/2026, importo 1.234,56 EUR."),
    ("it", "Rimborsate su IT60 X054 2811 1010 0000 0123 456, grazie. Scrivete a mario.rossi@esempio.it",
     "Rimborsate su [iban], grazie. Scrivete a [email]"),
    ("it", "Consegnare presso Piazza San Marco 1, Interno 4, 30124 Venezia",
     "Consegnare presso [street], [postcode] Venezia"),
    ("it", "Sono nato il 5 maggio 1970, ordine 4711 del 3 marzo.",
     "Sono nato il [dob], ordine 4711 del 3 marzo."),
    # Dutch
    ("nl", "Mijn adres is nu Keizersgracht 123, 1015 CJ Amsterdam. Bestelling 4711.",
     "Mijn adres is nu [street], [postcode] Amsterdam. Bestelling 4711."),
    ("nl", "Bel me op 06-12345678 of mail naar piet@voorbeeld.nl. Geboortedatum 01-02-1970.",
     "Bel me op [phone] of mail naar [email]. Geboortedatum [dob]."),
    ("nl", "Graag terugstorten op NL91 ABNA 0417 1643 00, bedrag € 59,95.",
     "Graag terugstorten op [iban], bedrag € 59,95."),
    ("nl", "Rekeningnummer 123456789 graag gebruiken; pakket 3SABC1234567890 is nooit aangekomen.",
     "Rekeningnummer [account] graag gebruiken; pakket 3SABC1234567890 is nooit aangekomen."),
    # Polish
    ("pl", "Dzień dobry, mój adres to ul. Marszałkowska 10/5, 00-590 Warszawa. Zamówienie 4711.",
     "Dzień dobry, mój adres to [street], [postcode] Warszawa. Zamówienie 4711."),
    ("pl", "Proszę o zwrot na numer konta PL61 1090 1014 0000 0712 1981 2874. Data urodzenia: 12.03.1985.",
     "Proszę o zwrot na numer konta [iban]. Data urodzenia: [dob]."),
    ("pl", "Mój numer telefonu: 601 234 567, e-mail: jan.kowalski@przyklad.pl",
     "Mój numer telefonu: [phone], e-mail: [email]"),
    ("pl", "Numer rachunku 61 1090 1014 0000 0712 1981 2874, kwota 199,99 zł.",
     "Numer rachunku [account], kwota 199,99 zł."),
    ("pl", "Urodzona 3 marca 1991 r., proszę dostarczyć na al. Jerozolimskie 100 m. 12.",
     "Urodzona [dob] r., proszę dostarczyć na [street]."),
]


@pytest.mark.parametrize("language, text, expected", CORPUS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CORPUS)])
def test_corpus_is_masked_exactly(language, text, expected):
    assert mask_text(text) == expected


# -- the order's own values, repeated by the customer: (language, order, message, expected) -------------

ADA = {"customer_email": "ada.lovelace@example.com", "ship_name": "Ada Lovelace",
       "ship_address1": "221B Baker Street", "ship_postal_code": "NW1 6XE", "ship_city": "London",
       "customer_id": "C-77"}
JUERGEN = {"customer_email": "j.mueller@example.de", "ship_name": "Jürgen Müller-Lüdenscheidt",
           "ship_address1": "Berliner Straße 12", "ship_postal_code": "60311", "ship_city": "Frankfurt am Main",
           "customer_id": "K-100234"}
MARIA = {"customer_email": "mjgarcia@example.es", "ship_name": "María José García López",
         "ship_address1": "Calle de Alcalá 45", "ship_postal_code": "28014", "ship_city": "Madrid",
         "customer_id": "CUST-9912"}
VINCENT = {"customer_email": None, "ship_name": "Vincent van der Berg", "ship_address1": "Prinsengracht 263",
           "ship_postal_code": "1016 GV", "ship_city": "Amsterdam", "customer_id": None}

KNOWN = [
    ("en", ADA, "This is Ada, Mrs Lovelace. Still at 221B Baker Street, london nw1 6xe. Customer C-77.",
     "This is [name], Mrs [name]. Still at [street], [city] [postcode]. Customer [customer]."),
    ("en", ADA, "ADA LOVELACE here, write to ADA.LOVELACE@EXAMPLE.COM, order #1050 of 2026-11-27.",
     "[name] here, write to [email], order #1050 of 2026-11-27."),
    ("en", ADA, "Please use NW16XE, the flat is above the shop.",
     "Please use [postcode], the flat is above the shop."),
    ("de", JUERGEN, "Herr Müller-Lüdenscheidt hier. Bitte an Berliner Straße 12, 60311 Frankfurt am Main "
                    "liefern, nicht an die Packstation. Jürgen",
     "Herr [name] hier. Bitte an [street], [postcode] [city] liefern, nicht an die Packstation. [name]"),
    ("de", JUERGEN, "Kundennummer K-100234, Herr Müller, Bestellung 12345 über 49,90 €.",
     "Kundennummer [customer], Herr [name], Bestellung 12345 über 49,90 €."),
    ("es", MARIA, "Soy María García, cliente CUST-9912. Enviar a Calle de Alcalá 45, 28014 Madrid.",
     "Soy [name] [name], cliente [customer]. Enviar a [street], [postcode] [city]."),
    ("nl", VINCENT, "Met Vincent van der Berg, Prinsengracht 263, 1016GV Amsterdam. De bus van PostNL kwam niet.",
     "Met [name], [street], [postcode] [city]. De bus van PostNL kwam niet."),
    ("nl", VINCENT, "Groeten, Vincent (de heer Berg), bestelling 4711.",
     "Groeten, [name] (de heer [name]), bestelling 4711."),
]


@pytest.mark.parametrize("language, order, text, expected", KNOWN, ids=[f"{c[0]}-{i}" for i, c in enumerate(KNOWN)])
def test_the_orders_own_values_are_masked_wherever_repeated(language, order, text, expected):
    assert mask_text(text, known_personal(order)) == expected


# -- what must come through unchanged: order numbers, dates, times, amounts, quantities, tracking ---------

UNCHANGED = [
    "Order #1050 was delivered on 12/03/2026 at 10:15, I paid €49.99.",
    "Bestellung 12345 vom 2026-11-27: 1.234,56 EUR, 3 Stück, Sendungsnummer 00340434161234567890.",
    "Bestellung 12345 Bitte stornieren, ich habe 10000 Euro zu viel bezahlt.",
    "Commande EXQ-100123 livrée le 3 mars, montant 49,90 €, suivi 6A12345678901.",
    "Pedido 4711: 2 unidades, 19,99 €, entregado el 15/11/2026.",
    "Ordine 123456789 del 27/11/2026, totale 1.234,56 EUR.",
    "Bestelling 4711 van 12-03-2026, 3 stuks à € 12,50.",
    "Zamówienie nr 12345 z dnia 03.12.2026, kwota 199,99 zł.",
    "Tracking 1Z999AA10123456784 shows 2 parcels, SKU ABC-12345, total $1,299.00.",
    "EAN 4006381333931 is the wrong product, order 98765 at 9:30am.",
    "Refund 123.45 EUR for order 55555, not 12345 EUR.",
    "I ordered 3 items on 2026-11-27 and 2 more on 28.11.2026 for $12.00 each.",
    "Invoice 2026112712 for 10000 USD, order 123-4567890-1234567.",
    "My birthday present arrived on 24/12/2026 broken.",
    "Sent via DHL 2 days ago, 5 items, order 4711 OK.",
    "Please ring 3 times, the parcel for order 98765 weighs 12.5 kg.",
    "Unit 2 is broken, Flat 3 screen protector missing, Suite 5 of the set is fine.",
    "Liefertermin 12.03.2026, Preis 1.299,00 €, Artikelnummer 4006381333931, Menge 2.",
    "Il pacco è arrivato il 3 marzo alle 14:30, ordine n. 4711, 2 pezzi da 49,90 €.",
    "Paczka dotarła 3 marca, zamówienie 12345, 2 sztuki po 99,00 zł.",
]


@pytest.mark.parametrize("text", UNCHANGED)
def test_order_numbers_dates_amounts_and_tracking_come_through(text):
    assert mask_text(text) == text


def test_corpus_size_and_languages():
    languages = {c[0] for c in CORPUS} | {c[0] for c in KNOWN}
    assert len(CORPUS) + len(KNOWN) + len(UNCHANGED) >= 40
    assert {"en", "de", "fr", "es", "nl", "it", "pl"} <= languages


# -- the API --------------------------------------------------------------------------------------------

def test_empty_and_missing_values():
    assert mask_text(None) == "" and mask_text("") == ""
    assert mask_text("Order 4711 please", {"[name]": None, "[city]": "", "[postcode]": "  "}) == "Order 4711 please"
    assert known_personal({}) == {"[email]": None, "[name]": None, "[street]": None, "[postcode]": None,
                                  "[city]": None, "[customer]": None}


def test_name_particles_and_short_parts_are_not_masked_alone():
    known = {"[name]": "Jo van der Berg"}
    assert mask_text("Jo van der Berg, de bus van der Post", known) == "[name], de bus van der Post"
    assert mask_text("Berg here, Jo", known) == "[name] here, Jo"     # parts under 3 letters stay


def test_customer_text_masks_then_reduces_to_plain_text():
    order = {**ADA, "customer_message": "<b>Hi</b>, I am Ada Lovelace\u202e at 221B Baker Street, call "
                                        "+44 20 7946 0958\u200b now"}
    assert customer_text(order, "customer_message", 400) == "Hi , I am [name] at [street], call [phone] now"
    assert customer_text(order, "customer_message", 20) == "Hi , I am [name] at…"
    assert customer_text(order, "return_reason", 60) == ""


def test_invisible_characters_cannot_split_a_value_past_the_mask():
    assert mask_text("mail ada.love\u200blace@example.com or +44 20\u200d 7946 0958") == "mail [email] or [phone]"
    assert mask_text("I am Ada Love\u2060lace", {"[name]": "Ada Lovelace"}) == "I am [name]"


def test_long_text_is_masked_quickly():
    import time
    text = ("Order 4711 arrived broken, call +44 20 7946 0958. " * 200)
    start = time.perf_counter()
    masked = mask_text(text)
    assert time.perf_counter() - start < 5
    assert "7946" not in masked and masked.count("[phone]") == 200


# -- contact details, as first specified (moved from test_assist.py) -----------------------------------

@pytest.mark.parametrize("text, hidden, shown", [
    ("write to ada.lovelace+shop@example.co.uk please", "ada.lovelace", "[email]"),
    ("call +1 (555) 123-4567 today", "123-4567", "[phone]"),
    ("call 0151 496 0000", "496 0000", "[phone]"),
    ("deliver to 12 Analytical Engine Road instead", "Analytical Engine", "[street]"),
    ("neu: Hauptstraße 5, Berlin", "Hauptstraße 5", "[street]"),
])
def test_mask_text_hides_contact_details(text, hidden, shown):
    masked = mask_text(text)
    assert hidden not in masked and shown in masked


def test_mask_text_keeps_amounts_and_order_numbers_and_masks_known_values():
    assert mask_text("I paid 1,400.00 for order 12345") == "I paid 1,400.00 for order 12345"
    masked = mask_text("This is Ada Lovelace speaking", {"[name]": "Ada Lovelace"})
    assert masked == "This is [name] speaking"


def test_plain_text_strips_markup_and_control_characters():
    hostile = "<b>Refund</b>\x00 now\u202e<script>alert('x')</script>\r\n\tplease\u200b"
    clean = plain_text(hostile)
    assert "<" not in clean and "\x00" not in clean and "\u202e" not in clean and "\u200b" not in clean
    assert clean == "Refund now alert('x') please"
    assert plain_text("a" * 500, 400).endswith("…") and len(plain_text("a" * 500, 400)) == 400
    assert plain_text("paid < total") == "paid < total"


# -- plain text -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("<b>Refund</b> now", "Refund now"),
    ("<p>Hello<br/>world</p>", "Hello world"),
    ("<script>alert('x')</script>please", "alert('x') please"),
    ("paid < total and 3 > 2", "paid < total and 3 > 2"),
    ("ab\u200bc\u200dd", "ab c d"),                                  # zero-width space and joiner
    ("\u202eevil\u202c text \u2066x\u2069", "evil text x"),            # bidi override and isolates
    ("line\r\nbreak\tand\x00null\x1b[31m", "line break and null [31m"),
    ("  many    spaces\u2028here  ", "many spaces here"),
    ("", ""),
    (None, ""),
])
def test_plain_text(text, expected):
    assert plain_text(text) == expected


def test_plain_text_cuts_to_the_limit():
    assert plain_text("a" * 500, 400) == "a" * 399 + "…"
    assert plain_text("word " * 10, 12) == "word word w…"
    assert plain_text("short", 10) == "short"
