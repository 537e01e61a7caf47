"""A Document Intelligence `locale` (a BCP 47 tag: "en", "en-US", "de", "fr-FR", "zh-Hant", "sr-Latn") as the
Tesseract language the job reads with, found among the installed models.

langcodes parses the tag and gives the language's ISO 639-2/T code, which is what Tesseract names most models
after (deu, fra, eng); a script in the tag picks a script model first where there is one (sr-Latn: srp_latn,
az-Cyrl: aze_cyrl, de-Latf: deu_latf); Chinese (zh-Hans, zh-Hant, zh-TW) and a few other languages go by
Tesseract's own names.
"""

from __future__ import annotations

from collections.abc import Collection

import langcodes

# Where Tesseract's model name is not the language's ISO 639-2/T code.
_TESSERACT_NAMES = {"nob": "nor", "nno": "nor", "kur": "kmr", "zho": "chi_sim"}
_CHINESE_SCRIPTS = {"Hans": "chi_sim", "Hant": "chi_tra"}
MAX_LOCALE_CHARS = 64


class UnknownLocale(ValueError):
    """The locale is no language tag, or no installed model reads its language; the message says which."""


def candidates(locale: str) -> list[str]:
    """The Tesseract model names that read `locale`'s language, best first; UnknownLocale for a tag that
    names no language."""
    try:
        tag = langcodes.Language.get(locale.strip())
        alpha3 = tag.to_alpha3()
    except (ValueError, LookupError) as exc:
        raise UnknownLocale(f"locale '{locale}' is not a language tag like en, en-US or de") from exc
    if alpha3 == "zho":
        return [_CHINESE_SCRIPTS.get(tag.script or tag.maximize().script or "", "chi_sim")]
    names = [f"{alpha3}_{tag.script.lower()}"] if tag.script else []
    return [*names, _TESSERACT_NAMES.get(alpha3, alpha3)]


def tesseract_language(locale: str, installed: Collection[str]) -> str:
    """The installed Tesseract model that reads `locale`; UnknownLocale names the installed ones otherwise."""
    if len(locale) > MAX_LOCALE_CHARS:
        raise UnknownLocale(f"locale is longer than {MAX_LOCALE_CHARS} characters")
    wanted = candidates(locale)
    for name in wanted:
        if name in installed:
            return name
    listed = ", ".join(sorted(n for n in installed if n != "osd"))
    raise UnknownLocale(
        f"no Tesseract model for locale '{locale}' is installed (looked for {' or '.join(wanted)}; installed: "
        f"{listed}); install tesseract-ocr-{wanted[-1].replace('_', '-')} on the workers, or leave locale out "
        "to read with the server's default language (OCR_DEFAULT_LANG)"
    )
