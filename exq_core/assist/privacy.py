"""What leaves exq for the model: plain text only, personal data masked (SPEC §5).

`plain_text` makes any text safe to show and to send (no markup, no control or format characters).
`mask_text` hides personal data inside free customer text (messages, return reasons); `customer_text`
applies both to one field of an order, also masking the order's own name, street, postcode, city, e-mail
and customer id wherever the customer repeats them.

`mask_text` first drops invisible format characters (a zero-width space must not split a value past the
mask), then runs these steps in this order, each on the output of the one before. The order matters: a
step must not see digits or words that belong to something a later, looser step would only half take.
  1. e-mail addresses      [email]     an address can hold the customer's name; it goes whole, first
  2. the order's values    [name] [street] [postcode] [city] [email] [customer]   exact strings, before
                           any pattern can take part of one
  3. IBANs                 [iban]      stdnum.iban; long letter+digit runs whose digits the card and
                           phone steps would otherwise take in pieces
  4. account numbers       [account]   checksummed ones (ES CCC, PL NRB) and numbers after "account",
                           "sort code", "Konto", "compte", "cuenta", "conto", "rekening", "rachunek" …
  5. card numbers          [card]      13-19 digits, Luhn-valid; before phones for the same reason as 3
  6. dates of birth        [dob]       only a date right after a birth word ("DOB", "geboren am", "née
                           le" …, or right before "geboren"); before phones, which could read
                           12.03.1985 as a number. Other dates are never touched.
  7. phone numbers         [phone]     phonenumbers.PhoneNumberMatcher over several regions (see _is_phone)
  8. street lines, c/o     [street]    after the digit steps, so a house number is never part of a phone;
                           "c/o NAME" keeps "c/o" and masks the name as [name]
  9. postcodes             [postcode]  last: a 5-digit or NL/PL postcode is told from an order number or
                           an amount only by what is around it (a masked street before, a city after …)
Not masked, on purpose: names the order does not carry (no list of first names: it would mask ordinary
words), national id numbers (not account numbers; out of scope), ordinary dates, times, amounts, order,
tracking and product numbers. Street lines are found by their street word and capitalised name, so an
all-lowercase "221b baker street" is caught only when it is the order's own street.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable, Mapping

import phonenumbers
from stdnum import ean, iban, luhn
from stdnum.es import ccc

_TAG_RE = re.compile(r"</?[A-Za-z!][^<>]{0,500}>")
_SPACE_RE = re.compile(r"\s+")


def plain_text(text: str | None, limit: int | None = None) -> str:
    """Text fit to show as plain text: no control or format characters (bidi overrides, zero-width),
    no HTML tags, white space collapsed, cut to `limit` characters."""
    if not text:
        return ""
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(text))
    text = _TAG_RE.sub(" ", text)
    text = _SPACE_RE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text


# -- building blocks ------------------------------------------------------------------------------------

_UP = "A-ZÀ-ÖØ-ÞĄĆĘŁŃŚŹŻŠŽČŘ"                                  # capitals that start a street or a name
_CAP = rf"[{_UP}][^\W\d_]*(?:[-'’][^\W\d_]+)*"                   # one capitalised word: Rivoli, Saint-Honoré
_PARTICLE = (r"(?:(?:de\s+la|de\s+los|de\s+las|del|della|delle|dello|dei|degli|de|di|da|du|des|do|dos|das|"
             r"van|von|der|den|la|le|les|ter)\s+|(?:d|l|dell)['’])")
_NAME = rf"(?:{_PARTICLE}{{0,2}}{_CAP})(?:\s+{_PARTICLE}{{0,2}}{_CAP}){{0,3}}"   # Paseo de la Castellana
_HOUSE = r"\d{1,5}[a-zA-Z]?(?:[-/]\d{1,4}[a-zA-Z]?|-[IVX]{1,4})?(?!\w)"          # 5a, 221B, 10/5, 123-II
_FLAT_SUFFIX = r"(?:\s*(?:m\.|lok\.)\s*\d{1,4}[a-zA-Z]?)?"                       # Polish "10 m. 12"
_FLOOR = r"(?:,?\s*\d{1,2}\s?[ºª°](?:\s?[A-Z\d](?!\w))?)?"                        # Spanish "5, 3º B"
# A number followed by a unit or a currency is a quantity, not a house ("via DHL 2 days", "ring 3 times").
_NOT_QUANTITY = (r"(?!\s*(?:[%€$£]|(?i:x|h|kg|cm|mm|ml|pcs?|days?|weeks?|months?|years?|hours?|min\w*|times|"
                 r"items?|units?|pieces?|st(?:ü|ue)ck|stk|tage?n?|wochen?|stunden?|jours?|semaines?|d[íi]as?|"
                 r"semanas?|giorni|settimane|pezzi|dagen|weken|stuks|dni|sztuk\w*|eur|usd|gbp|pln|chf)\b))")

_MONTHS = sorted(set(
    "january february march april may june july august september october november december jan feb mar apr "
    "jun jul aug sep sept oct nov dec januar jänner februar märz maerz mai juni juli oktober dezember okt dez "
    "janvier février fevrier mars avril juin juillet août aout septembre octobre novembre décembre janv févr "
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre "
    "gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre januari februari maart mei "
    "augustus stycznia lutego marca kwietnia maja czerwca lipca sierpnia września października listopada "
    "grudnia styczeń luty marzec kwiecień maj czerwiec lipiec sierpień wrzesień październik listopad "
    "grudzień".split()), key=len, reverse=True)
_MONTH = "|".join(_MONTHS)
_DATE = (r"\d{4}[./-]\d{1,2}[./-]\d{1,2}(?!\d)|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})(?!\d)|"
         rf"\d{{1,2}}(?:st|nd|rd|th|er|\.|º)?\s+(?:de\s+|of\s+)?(?:{_MONTH})\.?(?:,?\s+(?:de\s+)?\d{{4}})?(?!\w)|"
         rf"(?:{_MONTH})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?(?!\w)|"
         r"\d{1,2}\.\d{1,2}\.(?!\d)|\d{1,2}[./]\d{1,2}(?![\d./])|(?:19|20)\d{2}(?!\d)")

# Words that make a nearby number an order, parcel or product reference rather than a phone or postcode.
_REF_WORDS = (r"order\w*|bestell\w*|commande\w*|pedido\w*|ordine|bestelling\w*|zam[óo]wieni\w*|auftrag\w*|"
              r"invoice\w*|rechnung\w*|factur\w*|fattur\w*|faktur\w*|ref|reference|referenz|r[ée]f[ée]rence|"
              r"tracking|track|sendung\w*|paket\w*|parcel|package|colis|suivi|env[íi]o|spedizione|zending|"
              r"pakket|przesy[łl]k\w*|sku|ean|item|artikel|art|kunde\w*|customer")
_REF_BEFORE_RE = re.compile(rf"(?i)(?:(?<!\w)(?:{_REF_WORDS}|nr|no|n[º°])|#)\W{{0,3}}$")

# -- the steps ------------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"(?<![\w.+%-])[\w.+%-]++@[\w-]+(?:\.[\w-]+)+")     # linear: starts only at a token

_NAME_SKIP = {"van", "von", "der", "den", "del", "della", "dello", "dei", "degli", "des", "das", "dos", "ter",
              "ten", "las", "los", "und", "and", "mrs", "miss", "herr", "frau", "mme", "mlle", "sra", "srta",
              "pan", "pani", "dhr", "mevr"}     # particles and titles: common words, and not identifying alone


def _mask_known(text: str, known: Mapping[str, str | None] | None) -> str:
    """The order's own values, case-insensitive and as whole words; the name also part by part."""
    values: list[tuple[str, str]] = []
    for placeholder, value in (known or {}).items():
        value = "" if value is None else str(value).strip()      # a customer id may come as a number
        if len(value) >= 3:
            values.append((value, placeholder))
        if placeholder == "[name]":
            for part in {p.strip(".,'’") for word in value.split() for p in [word, *word.split("-")]}:
                if sum(ch.isalpha() for ch in part) >= 3 and part.lower() not in _NAME_SKIP:
                    values.append((part, placeholder))
    for value, placeholder in sorted(values, key=lambda v: len(v[0]), reverse=True):   # longest first
        gap = r"\s*" if placeholder == "[postcode]" else r"\s+"                         # NW1 6XE, NW16XE
        pattern = gap.join(re.escape(word) for word in value.split())
        text = re.sub(rf"(?<!\w){pattern}(?!\w)", placeholder, text, flags=re.IGNORECASE)
    return text


def _sub_groups(pattern: re.Pattern, text: str, accept: Callable[[str], bool], placeholder: str,
                anchored: bool = False) -> str:
    """Replace the longest run of space/dash-separated groups inside each match that `accept` takes.
    A match may run into a neighbouring word or number ("… 9268 19 please", "order 5 4111 1111 …"), so
    the groups are tried in every contiguous range, longest first (only from the first group if
    `anchored`). A range is cut only at spaces: dashes join one token ("123-4567890-1234567")."""
    def replace(m: re.Match) -> str:
        found = m.group()
        groups = list(re.finditer(r"[^\s-]+", found))
        ranges = [(i, j) for i in range(1 if anchored else len(groups)) for j in range(len(groups), i, -1)
                  if (i == 0 or found[groups[i].start() - 1] != "-")
                  and (j == len(groups) or found[groups[j - 1].end()] != "-")]
        for i, j in sorted(ranges, key=lambda r: r[0] - r[1]):
            start, end = groups[i].start(), groups[j - 1].end()
            if accept(found[start:end]):
                return found[:start] + placeholder + found[end:]
        return found
    return pattern.sub(replace, text)


_IBAN_RE = re.compile(r"(?<!\w)[A-Za-z]{2}\d{2}[A-Za-z0-9]*(?:[ -][A-Za-z0-9]+){0,9}")
_CARD_RE = re.compile(r"(?<![\w.,+/-])\d+(?:[ -]\d+){0,9}(?![\w/]|[.,]\d)")     # digit groups; see _is_card


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def _is_card(s: str) -> bool:
    d = _digits(s)
    # issuers' first digits are 2-6; a 13-digit number that is a valid EAN is a product code
    return (13 <= len(d) <= 19 and d[0] in "23456" and luhn.is_valid(d)
            and not (len(d) == 13 and ean.is_valid(d)))


# Checksummed national bank account numbers, written whole: ES CCC (20 digits), PL NRB (26 digits, an IBAN
# without "PL"). Not after an order or parcel word: a tracking number can pass a 2-digit check by chance.
_BANK_RE = re.compile(r"(?<![\w.,+/-])(?:\d{4}[ -]?\d{4}[ -]?\d{2}[ -]?\d{10}|\d{2}(?: ?\d{4}){6})"
                      r"(?![\w/]|[.,]\d|[ -]\d)")


def _mask_bank(text: str, m: re.Match) -> str:
    d = _digits(m.group())
    valid = ccc.is_valid(d) if len(d) == 20 else iban.is_valid("PL" + d)
    return "[account]" if valid and not _REF_BEFORE_RE.search(text, 0, m.start()) else m.group()


_ACCOUNT_RE = re.compile(
    r"(?i)(?<!\w)(?P<cue>bank\s+account|account|acct|a/c|sort\s*code|routing|aba|kontonummer|konto|kto|konta|"
    r"rachunku|rachunek|compte|cuenta|conto|rekeningnummer|rekening)(?!\w)"
    r"(?P<fill>[\s:#.]*(?:(?:number|no|nr|n[º°o]|nummer|num[ée]ro|n[úu]mero|numer|is|ist|est|es|è|bancaire|"
    r"bancario|bancaria|corriente|courant|de|di)(?!\w)[\s:#.]*){0,3})"
    r"(?P<number>\d+(?:[ -]\d{2,}){0,8})(?![\w]|[.,]\d)")


def _mask_account(m: re.Match) -> str:
    if not 6 <= len(_digits(m["number"])) <= 34:
        return m.group()
    return m["cue"] + m["fill"] + "[account]"


_DOB_RE = re.compile(
    r"(?i)(?P<cue>(?<!\w)(?:D\.?O\.?B\b\.?|date\s+of\s+birth|birth\s*date|birthday|born|geboren|geburtsdatum|"
    r"geburtstag|geb\.|né(?:e|\(e\))?\s+le|date\s+de\s+naissance|fecha\s+de\s+nacimiento|nacid[oa]|"
    r"data\s+di\s+nascita|nat[oa]\s+il|geboortedatum|data\s+urodzenia|urodzon[ya]|ur\.))"
    r"(?P<fill>(?:\s*[:=,\-–]\s*|\s+)"
    r"(?:(?:is|was|ist|war|am|on|the|der|den|in|est|le|es|el|il|è|op|dnia|w|en)\s+|"
    rf"(?:in|à|en|a|w|te|im)\s+[{_UP}][^\W\d_]+,?\s+){{0,3}})"        # born in London on …
    rf"(?P<date>{_DATE})")
# German and Polish put the word after the date: "am 01.01.1990 geboren"
_DOB_AFTER_RE = re.compile(rf"(?i)(?<!\w)(?P<date>{_DATE})(?P<cue>\s+(?:geboren|urodzon[ya]))(?!\w)")

_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "PL")
_PHONE_CUE_RE = re.compile(
    r"(?i)(?<!\w)(?:phone|tel|telephone|mobile|mob|cell|call|ring|text|sms|whatsapp|fax|reach|contact|handy|"
    r"telefon\w*|mobil\w*|rufnummer|anruf\w*|erreichbar|t[ée]l[ée]phone|t[ée]l|portable|appel\w*|joindre|"
    r"tel[ée]fono|m[óo]vil|llam\w*|cellulare|chiam\w*|telefoon\w*|mobiel|bel|bellen|kom[óo]rk\w*|dzwo[ńn]\w*)"
    r"(?!\w)")
_REF_CUE_RE = re.compile(rf"(?i)(?<!\w)(?:{_REF_WORDS})(?!\w)")
_NOT_PHONE_RE = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}|\d{1,2}:\d{2}(?::\d{2})?|"      # dates, times
                           r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?")                          # amounts


def _is_phone(text: str, m: phonenumbers.PhoneNumberMatch) -> bool:
    """The matcher runs at POSSIBLE leniency; this decides. An explicit international number (+44 …)
    is a phone. Otherwise the nearest cue word in the 40 characters before decides ("call", "Tel.",
    "móvil" … against "order", "Sendung", "tracking" …); with no cue, the number must be VALID for
    its region and written like a phone (grouped or with a trunk 0), never a bare digit run such as
    an order or invoice number."""
    raw = m.raw_string
    if len(_digits(raw)) < 7 or _NOT_PHONE_RE.fullmatch(raw):
        return False
    if (m.start and text[m.start - 1].isalnum()) or (m.end < len(text) and text[m.end].isalnum()):
        return False                                    # inside a tracking or product code
    if raw.startswith("+"):
        return True
    window = text[max(0, m.start - 40):m.start]
    cues = [(c.end(), "phone") for c in _PHONE_CUE_RE.finditer(window)] + \
           [(c.end(), "ref") for c in _REF_CUE_RE.finditer(window)]
    cue = max(cues)[1] if cues else None
    if cue is not None:
        return cue == "phone"
    return phonenumbers.is_valid_number(m.number) and (raw[0] == "0" or not raw.isdigit())


def _mask_phones(text: str) -> str:
    spans = sorted({(m.start, m.end) for region in _PHONE_REGIONS
                    for m in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.POSSIBLE)
                    if _is_phone(text, m)})
    merged: list[list[int]] = []                        # regions may see different spans of one number
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + "[phone]" + text[end:]
    return text


_EN_TYPES = (r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Square|Sq|"
             r"Terrace|Close|Crescent|Gardens|Grove|Mews|Row|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|Walk|Hill|"
             r"Loop|Alley|Plaza")
_SUFFIXES = (r"straße|strasse|str\.|weg|gasse|platz|allee|damm|ufer|chaussee|steig|pfad|markt|gracht|straat|"
             r"laan|plein|kade|singel|dijk|steeg")
_STREET_RES = [re.compile(p + _NOT_QUANTITY) for p in (
    # house number first: 221B Baker Street, 1600 Pennsylvania Ave NW
    rf"(?<![\w/.,-]){_HOUSE},?\s+(?:{_CAP}\s+){{1,4}}(?i:{_EN_TYPES})\b"
    rf"(?:\s+(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\b)?",
    # house number first, street word before the name: 12 rue de Rivoli, 3 avenue des Champs-Élysées
    rf"(?<![\w/.,-]){_HOUSE}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|av\.|boulevard|bd|place|chemin|allée|"
    rf"impasse|quai|cours|route|passage)\s+{_NAME}",
    # street word, name, number: Calle Mayor 5, 3º / Via Roma 10 / ul. Marszałkowska 10/5 / Rue de Rivoli 12
    rf"(?<!\w)(?:(?:[Cc]alle|[Aa]venida|[Pp]aseo|[Pp]laza|[Cc]arrer|[Cc]amino|[Rr]onda|[Vv]ia|[Vv]iale|"
    rf"[Pp]iazza|[Cc]orso|[Ll]argo|[Vv]icolo|[Ss]trada|[Uu]lica|[Aa]leja|[Pp]lac|[Oo]siedle|Rue|Avenue|"
    rf"Boulevard|Chemin|Quai|Allée)\s+|(?:C/|Avda\.|Pza\.|ul\.|al\.|pl\.|os\.)\s*)"
    rf"{_NAME},?\s+(?:n[º°o]\.?\s*)?{_HOUSE}{_FLOOR}{_FLAT_SUFFIX}",
    # name ending in a street word, then number: Kurfürstendamm 21, Hauptstraße 5a, Keizersgracht 123
    rf"(?<!\w)(?:{_CAP}\s+(?:Straße|Strasse|Str\.|Weg|Gasse|Platz|Allee|Damm|Ufer|Chaussee|Markt|Ring)|"
    rf"[{_UP}][\w'’-]*?(?i:{_SUFFIXES})|[{_UP}][\w'’-]{{3,}}ring)\s*{_HOUSE}{_FLAT_SUFFIX}",
    # apartment: Apt 4B, Wohnung 3, Interno 4
    r"(?<!\w)(?:[Aa]pt\.?|[Aa]partment|[Aa]ppartement|Apto\.?|Wohnung|Whg\.|Interno|[Pp]iso|[Mm]ieszkanie)"
    r"\s*(?:No\.?|Nr\.?|n[º°]\.?|#)?\s*\d{1,4}[a-zA-Z]?(?!\w)",
    # Flat, Unit, Suite are ordinary words too ("Unit 2 is broken"): only next to a street line
    r"(?:(?<=\[street\], )|(?<=\[street\] ))(?:Flat|Unit|Suite|Ste\.)\s*#?\s*\d{1,4}[a-zA-Z]?(?!\w)",
    r"(?<!\w)(?:Flat|Unit|Suite|Ste\.)\s*#?\s*\d{1,4}[a-zA-Z]?(?=,\s*\[street\])",
)]
_CARE_OF_RE = re.compile(rf"(?P<cue>(?i:(?<!\w)(?:c/o|c\.o\.|z\.\s?hd\.?|p/a)))\s+"
                         rf"(?:(?:Mr|Mrs|Ms|Dr|Mme|M|Sr|Sra|Sig)\.?\s+)?{_CAP}(?:\s+{_PARTICLE}{{0,2}}{_CAP}){{0,3}}")
_STREET_RUN_RE = re.compile(r"\[street\](?:\s*,?\s*\[street\])+")      # "Flat 3, 12 High Street": one line


def _mask_streets(text: str) -> str:
    text = _CARE_OF_RE.sub(lambda m: m["cue"] + " [name]", text)
    for pattern in _STREET_RES:
        text = pattern.sub("[street]", text)
    return _STREET_RUN_RE.sub("[street]", text)


_UK_POSTCODE_RE = re.compile(r"(?<![\w-])(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) ?\d[ABD-HJLNP-UW-Z]{2}(?![\w-])")
_CA_POSTCODE_RE = re.compile(r"(?<![\w-])[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ -]?\d[ABCEGHJ-NPRSTV-Z]\d(?![\w-])")
# 5-digit (DE FR ES IT, US ZIP+4), Dutch 1234 AB, Polish 12-345: the same shapes as order numbers, so each
# needs a sign that it is a postcode (see _is_postcode).
_POSTCODE_RE = re.compile(r"(?<![\w#.,/+-])(?:\d{5}(?:-\d{4})?|[1-9]\d{3} ?[A-Z]{2}|\d{2}-\d{3})(?![\w/+-]|[.,]\d)")
_STREET_BEFORE_RE = re.compile(r"\[street\]\s*,?\s*$")
_POSTCODE_WORD_RE = re.compile(r"(?i)(?<!\w)(?:zip(?:\s*code)?|post\s*code|postal\s*code|plz|postleitzahl|"
                               r"code\s+postal|c\.?p\.?|c[óo]digo\s+postal|cap|kod(?:\s+pocztowy)?)\s*[:#]?\s*$")
_US_STATE_RE = re.compile(r"(?<!\w)(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|"
                          r"MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|PR|RI|SC|SD|TN|TX|UT|VT|VA|WA|"
                          r"WV|WI|WY),?\s+$")
_CITY_AFTER_RE = re.compile(r",?[ \t]+([^\W\d_]{3,})")
_NOT_CITY = {"euro", "euros", "dollar", "dollars", "pfund", "franken", "złotych", "zloty", "yen", "stück",
             "stk", "artikel", "punkte", "points", "items", "pcs", "stuks", "pezzi", "unidades", "sztuk", "mal",
             "times", "units", "pieces", "jahre", "years", "tage", "days", "kilometer", "meter"}
_NOT_NL_LETTERS = {"OK", "AM", "PM", "EU", "UK", "US", "MB", "GB", "KB", "TB", "XL", "XS", "ML", "CM", "MM",
                   "KG", "TV", "PC", "ID", "HD", "ST", "ND", "RD", "TH", "SA", "SD", "SS"}


def _is_postcode(text: str, m: re.Match) -> bool:
    value, before = m.group(), text[:m.start()]
    if value[-2:].isalpha() and value[-2:] in _NOT_NL_LETTERS:
        return False
    if _STREET_BEFORE_RE.search(before) or _POSTCODE_WORD_RE.search(before):
        return True
    if value[:5].isdigit() and _US_STATE_RE.search(before):
        return True                                     # Austin, TX 78701
    city = _CITY_AFTER_RE.match(text, m.end())          # 10719 Berlin, 75002 Paris, 00-590 Warszawa
    return bool(city and city[1][0].isupper() and city[1][1:].islower() and city[1].lower() not in _NOT_CITY
                and not _REF_BEFORE_RE.search(before))


def _mask_postcodes(text: str) -> str:
    text = _UK_POSTCODE_RE.sub("[postcode]", text)
    text = _CA_POSTCODE_RE.sub("[postcode]", text)
    return _POSTCODE_RE.sub(lambda m: "[postcode]" if _is_postcode(text, m) else m.group(), text)


# -- the API --------------------------------------------------------------------------------------------

def mask_text(text: str | None, known: Mapping[str, str | None] | None = None) -> str:
    """Mask personal data inside free customer text (the steps and their order: see the module
    docstring), plus the order's own values (`known`: placeholder → value, e.g. {"[name]": "Ada Lovelace"})."""
    if not text:
        return ""
    # invisible format characters (zero-width, bidi) could split a value so no step sees it whole
    text = "".join(ch for ch in str(text) if unicodedata.category(ch) != "Cf")
    text = _EMAIL_RE.sub("[email]", text)
    text = _mask_known(text, known)
    text = _sub_groups(_IBAN_RE, text, iban.is_valid, "[iban]", anchored=True)
    text = _BANK_RE.sub(lambda m: _mask_bank(text, m), text)
    text = _ACCOUNT_RE.sub(_mask_account, text)
    text = _sub_groups(_CARD_RE, text, _is_card, "[card]")
    text = _DOB_RE.sub(lambda m: m["cue"] + m["fill"] + "[dob]", text)
    text = _DOB_AFTER_RE.sub(lambda m: "[dob]" + m["cue"], text)
    text = _mask_phones(text)
    text = _mask_streets(text)
    return _mask_postcodes(text)


def known_personal(order: dict) -> dict[str, str | None]:
    """The order's own personal values, as `mask_text` takes them."""
    return {"[email]": order.get("customer_email"), "[name]": order.get("ship_name"),
            "[street]": order.get("ship_address1"), "[postcode]": order.get("ship_postal_code"),
            "[city]": order.get("ship_city"), "[customer]": order.get("customer_id")}


def customer_text(order: dict, field_name: str, limit: int) -> str:
    """A customer-written field, masked and reduced to plain text."""
    return plain_text(mask_text(order.get(field_name), known_personal(order)), limit)
