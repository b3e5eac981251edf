"""Which countries belong to the regions publishers report on. Used to resolve the country
names a landing page lists and to check that each country sits in its region. Turkey and
Russia straddle two regions and are accepted in both."""

import functools

from django_countries import countries

REGION_MEMBERS: dict[str, frozenset[str]] = {
    "North America": frozenset(["US", "CA", "PR", "BM", "GL"]),
    "Latin America": frozenset(
        [
            "MX",
            "BR",
            "AR",
            "CO",
            "CL",
            "PE",
            "VE",
            "EC",
            "BO",
            "PY",
            "UY",
            "CR",
            "PA",
            "GT",
            "HN",
            "SV",
            "NI",
            "CU",
            "DO",
            "HT",
            "JM",
            "TT",
            "BS",
            "BB",
            "BZ",
            "GY",
            "SR",
        ]
    ),
    "Europe": frozenset(
        [
            "AL",
            "AD",
            "AT",
            "BY",
            "BE",
            "BA",
            "BG",
            "HR",
            "CY",
            "CZ",
            "DK",
            "EE",
            "FI",
            "FR",
            "DE",
            "GR",
            "HU",
            "IS",
            "IE",
            "IT",
            "XK",
            "LV",
            "LI",
            "LT",
            "LU",
            "MT",
            "MD",
            "MC",
            "ME",
            "NL",
            "MK",
            "NO",
            "PL",
            "PT",
            "RO",
            "RU",
            "SM",
            "RS",
            "SK",
            "SI",
            "ES",
            "SE",
            "CH",
            "UA",
            "GB",
            "VA",
            "TR",
        ]
    ),
    "Asia-Pacific": frozenset(
        [
            "AU",
            "NZ",
            "CN",
            "JP",
            "KR",
            "KP",
            "IN",
            "ID",
            "TH",
            "MY",
            "SG",
            "PH",
            "VN",
            "TW",
            "HK",
            "MO",
            "BD",
            "PK",
            "LK",
            "NP",
            "MM",
            "KH",
            "LA",
            "BN",
            "MN",
            "BT",
            "MV",
            "FJ",
            "PG",
            "KZ",
            "UZ",
            "KG",
            "TJ",
            "TM",
            "TL",
        ]
    ),
    "Middle East & Africa": frozenset(
        [
            "AE",
            "SA",
            "QA",
            "KW",
            "BH",
            "OM",
            "YE",
            "IQ",
            "IR",
            "IL",
            "JO",
            "LB",
            "SY",
            "PS",
            "TR",
            "EG",
            "ZA",
            "NG",
            "KE",
            "MA",
            "DZ",
            "TN",
            "LY",
            "ET",
            "GH",
            "CI",
            "CM",
            "SN",
            "TZ",
            "UG",
            "RW",
            "AO",
            "MZ",
            "ZM",
            "ZW",
            "BW",
            "NA",
            "SD",
            "SS",
            "ML",
            "NE",
            "BF",
            "TD",
            "MG",
            "MU",
        ]
    ),
}

# Names that landing pages use but the ISO list spells differently.
ALIASES = {
    "united states": "US",
    "usa": "US",
    "u.s.": "US",
    "u.k.": "GB",
    "uk": "GB",
    "uae": "AE",
    "china taiwan": "TW",
    "korea": "KR",
    "saudi arabia": "SA",
}


@functools.lru_cache(maxsize=4096)
def country_code(name: str) -> str:
    """ISO 3166 alpha-2 code for a country name (or for the code itself, e.g. "DE"), or ""
    when it is not a country. Cached: an import resolves the same few hundred names over and
    over, and a lookup by name scans the whole list."""
    cleaned = " ".join(name.split()).strip()
    if len(cleaned) == 2 and cleaned.isupper() and cleaned in countries:
        return cleaned
    return ALIASES.get(cleaned.lower()) or countries.by_name(cleaned) or ""


def region_contains(region_name: str, code: str) -> bool | None:
    """True/False when the region is known, None for a region this table does not describe."""
    members = REGION_MEMBERS.get(region_name)
    return None if members is None else code in members


def countries_resolve(region_name: str, names: list[str]) -> tuple[list[str], list[str]]:
    """Turn a region's listed names into ISO codes, fixing the usual copy errors: a country
    split over two entries ("Saudi", "Arabia"), two countries run together ("Argentina Korea"),
    a country under a region it is not in. Returns (codes, notes on every change made)."""
    codes: list[str] = []
    notes: list[str] = []
    i = 0
    while i < len(names):
        name = names[i]
        code = country_code(name)
        if not code and i + 1 < len(names) and country_code(f"{name} {names[i + 1]}"):
            joined = f"{name} {names[i + 1]}"
            code = country_code(joined)
            notes.append(f'{region_name}: joined "{name}" and "{names[i + 1]}" into {joined}.')
            i += 1
        elif not code:
            parts = [country_code(word) for word in name.split()]
            kept = [c for c in parts if c and region_contains(region_name, c) is not False]
            if kept:
                notes.append(
                    f'{region_name}: "{name}" is not a country; kept '
                    f"{', '.join(countries.name(c) for c in kept)}."
                )
                parts = kept
            else:
                notes.append(f'{region_name}: dropped "{name}", which is not a country.')
            code = parts[0] if kept else ""
        elif region_contains(region_name, code) is False:
            notes.append(
                f'{region_name}: dropped "{name}" ({countries.name(code)}), which is not in '
                f"{region_name}."
            )
            code = ""
        if code and code not in codes:
            codes.append(code)
        i += 1
    return codes, notes
