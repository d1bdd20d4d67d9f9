"""The message catalogs in translations/: extract, update, fill English, compile, and say what is missing.

    python -m portal.i18n.catalogs update    # `make translations`: extract, update nb and en, compile, report
    python -m portal.i18n.catalogs compile   # `make run` / `make test` (and the test session): .po → .mo
    python -m portal.i18n.catalogs check     # exit 1 if a message lacks a bokmål translation

The .po files are written without source locations, sorted by message and with fixed header dates, so
two branches that each add messages rarely touch the same lines. English is the source language: its
catalog is filled from the message ids (edit an English msgstr only to change wording without touching
code). The compiled .mo files are not committed.
"""

import io
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent.parent
TRANSLATIONS = ROOT / "translations"
LANGUAGES = ("nb", "en")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "pgettext": ((1, "c"), 2),
            "npgettext": ((1, "c"), 2, 3), "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2),
            "lazy_pgettext": ((1, "c"), 2)}
# Stable headers: a date that changed on every run would make every branch's catalog conflict.
FIXED_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
HEADER = {
    "nb": "# Care Portal in Norwegian bokmål, as a Norwegian clinic says it (not word for word).\n"
          "# Terms: henvisning (referral), konsultasjon, time/timeavtale (appointment), innsjekking (check-in),\n"
          "# reiserefusjon (travel pay), fødselsnummer, pasient, lege, sekretær, timebok (diary), ledig time (slot).\n"
          "# `make translations` adds new messages here with an empty msgstr; fill them in.",
    "en": "# Care Portal in English: filled from the message ids by `make translations`.",
}


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def extract() -> Catalog:
    """Every marked message of the code and templates (babel.cfg says where), as a template catalog."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    template = Catalog(project="Care Portal", fuzzy=False, creation_date=FIXED_DATE)
    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True, directory_filter=_not_hidden):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _not_hidden(dirname: str) -> bool:
    name = Path(dirname).name
    return not name.startswith(".") and name not in ("node_modules", "__pycache__")


def read(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, project="Care Portal", creation_date=FIXED_DATE)
    with open(path, "rb") as f:
        return read_po(f, locale=language)


def write(catalog: Catalog, language: str) -> None:
    catalog.creation_date = catalog.revision_date = FIXED_DATE
    catalog.header_comment = HEADER[language]
    catalog.project, catalog.version, catalog.msgid_bugs_address = "Care Portal", "1", "no-reply@care-portal.invalid"
    catalog.last_translator = "Care Portal <no-reply@care-portal.invalid>"
    catalog.language_team = f"{language} <no-reply@care-portal.invalid>"
    catalog.fuzzy = False
    buffer = io.BytesIO()
    write_po(buffer, catalog, no_location=True, sort_output=True, ignore_obsolete=True, width=120)
    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != buffer.getvalue():
        path.write_bytes(buffer.getvalue())


def fill_english(catalog: Catalog) -> None:
    """English says what the code says, unless a msgstr was written on purpose (and is not fuzzy)."""
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            if message.fuzzy or not all(message.string):
                message.string = (message.id[0], message.id[1])
        elif message.fuzzy or not message.string:
            message.string = message.id
        message.flags.discard("fuzzy")


def missing(catalog: Catalog, template: Catalog | None = None) -> list[str]:
    """Message ids without a usable translation: absent, empty (any plural form) or fuzzy."""
    problems = []
    for wanted in template or catalog:
        if not wanted.id:
            continue
        key = wanted.id[0] if isinstance(wanted.id, tuple) else wanted.id
        message = catalog.get(key, context=wanted.context)
        strings = message.string if message is not None and isinstance(message.string, tuple) else \
            (message.string,) if message is not None else ("",)
        if message is None or message.fuzzy or not all(strings):
            problems.append(key)
    return problems


_PLACEHOLDER = re.compile(r"%(?:\([a-z_0-9]+\))?[-#0 +]*\d*(?:\.\d+)?[sdrfxXi%]", re.IGNORECASE)


def _placeholders(text: str) -> list[str]:
    return sorted(p for p in _PLACEHOLDER.findall(text or "") if p != "%%")


def format_errors(catalog: Catalog) -> list[str]:
    """Translations whose placeholders are not the message's (a dropped %(name)s would show the raw key or
    fail to format), besides Babel's own checks."""
    errors = [f"{message.id!r}: {'; '.join(str(e) for e in problems)}" for message, problems in catalog.check()]
    for message in catalog:
        if not message.id or not message.string or "python-format" not in message.flags:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = _placeholders(ids[-1])
        for string in strings:
            # A plural form may leave out %(num)d ("one day" for n == 1), nothing else.
            if string and set(_placeholders(string)) - {"%(num)d"} != set(wanted) - {"%(num)d"}:
                errors.append(f"{ids[0]!r}: placeholders {wanted} but the translation has {_placeholders(string)}")
    return errors


def compile_all() -> None:
    for language in LANGUAGES:
        path = po_path(language)
        if not path.exists():
            continue
        target = path.with_suffix(".mo")
        if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
            continue
        with open(path, "rb") as f:
            catalog = read_po(f, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        temporary = target.with_suffix(".mo.tmp")
        temporary.write_bytes(buffer.getvalue())
        temporary.replace(target)  # atomic: a running server never reads half a catalog


def update() -> int:
    template = extract()
    for language in LANGUAGES:
        catalog = read(language)
        catalog.update(template, update_creation_date=False)
        if language == "en":
            fill_english(catalog)
        write(catalog, language)
    compile_all()
    return report(template)


def report(template: Catalog | None = None) -> int:
    template = template or extract()
    nb = read("nb")
    todo, errors = missing(nb, template), format_errors(nb)
    print(f"{len([m for m in template if m.id])} messages; bokmål lacks {len(todo)}, English lacks "
          f"{len(missing(read('en'), template))}; {len(errors)} placeholder errors.")
    if todo:
        print(f"Translate these in {po_path('nb').relative_to(ROOT)} (msgstr, and remove any '#, fuzzy' line):")
        for message_id in todo:
            print(f"  {message_id!r}")
    for error in errors:
        print(f"  placeholder error: {error}")
    return 1 if todo or errors else 0


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "update"
    if command == "compile":
        compile_all()
        return 0
    if command == "check":
        return report()
    if command == "update":
        update()
        return 0  # the report lists what is left; the test suite is the gate
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
