"""The catalogs are complete: every marked message of the code and templates has a bokmål translation
that is not fuzzy and whose placeholders match. `make translations` lists what is missing."""

from babel.messages.catalog import Catalog

from portal.i18n import catalogs


def test_every_message_in_the_code_has_a_bokmal_translation_that_is_not_fuzzy():
    template = catalogs.extract()
    nb = catalogs.read("nb")
    missing = catalogs.missing(nb, template)
    assert not missing, (f"{len(missing)} message(s) lack a bokmål translation (run `make translations`, then fill "
                         f"in their msgstr in translations/nb/LC_MESSAGES/messages.po): {missing}")
    assert not catalogs.format_errors(nb), catalogs.format_errors(nb)


def test_the_english_catalog_has_every_message_too():
    template = catalogs.extract()
    assert not catalogs.missing(catalogs.read("en"), template), "run `make translations`"
    assert not catalogs.format_errors(catalogs.read("en"))


def test_extraction_reads_templates_python_plurals_and_lazy_strings():
    ids = {m.id for m in catalogs.extract() if m.id}
    assert "Skip to main content" in ids  # templates/base.html
    assert "just now" in ids  # portal/i18n/formatting.py
    assert ("%(num)d day ago", "%(num)d days ago") in ids  # ngettext
    assert "Travel pay" in ids  # lazy_gettext (_l) in portal/checkin/services.py


def test_a_fuzzy_empty_or_absent_translation_counts_as_missing():
    template = Catalog(locale="nb")
    for message in ("Done", "Fuzzy", "Empty", "Absent", ("%(num)d day", "%(num)d days")):
        template.add(message)
    nb = Catalog(locale="nb")
    nb.add("Done", "Ferdig")
    nb.add("Fuzzy", "Uklar", flags=["fuzzy"])
    nb.add("Empty", "")
    nb.add(("%(num)d day", "%(num)d days"), ("%(num)d dag", ""))
    assert catalogs.missing(nb, template) == ["Fuzzy", "Empty", "Absent", "%(num)d day"]


def test_a_translation_that_drops_a_placeholder_is_an_error():
    nb = Catalog(locale="nb")
    nb.add("Hello %(name)s", "Hei", flags=["python-format"])
    assert catalogs.format_errors(nb)
