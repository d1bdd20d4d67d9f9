"""Text a person can read that never went through gettext, found on a page shown in the pseudo-locale.

In the pseudo-locale (en-XA, portal/i18n/pseudo.py) every translated message has no plain ASCII letter
left, so a word made only of ASCII letters is either data (a name, a code, an address: the words of the
database are collected by `data_words`) or text a template or view forgot to mark. Code samples, elements
marked `translate="no"` and text in another language on purpose (an element with its own `lang`, like the
language switch's "English") are not read.
"""

import re

# Every text node under <body> (visually hidden ones too: screen readers read them), the attributes people
# see or hear, and the title.
TEXTS_JS = """() => {
  const skip = el => el.closest('script, style, noscript, code, pre, kbd, samp, [translate="no"], body [lang]');
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue.replace(/\\s+/g, ' ').trim();
    if (text && node.parentElement && !skip(node.parentElement)) texts.push(text);
  }
  const labelled = '[placeholder], [aria-label], [title], [alt], input[type=submit], input[type=button]';
  for (const el of document.querySelectorAll(labelled)) {
    if (skip(el)) continue;
    for (const name of ['placeholder', 'aria-label', 'title', 'alt']) {
      const value = (el.getAttribute(name) || '').trim();
      if (value) texts.push(value);
    }
    if (el.matches('input[type=submit], input[type=button]') && el.value) texts.push(el.value);
  }
  texts.push(document.title);
  return texts;
}"""

WORD = re.compile(r"(?<![\w\u00c0-\u024f\u1e00-\u1eff])[A-Za-z]{2,}(?![\w\u00c0-\u024f\u1e00-\u1eff])")
# Tokens that are addresses, not words: URLs, e-mail addresses, paths, file names, host names.
ADDRESS = re.compile(r"\S*(?:://|@|^/|\.[a-z]{2,4}\b)\S*")
# Random identifiers (RQ's job ids): a group of one, such as the "bbbf" of 3d5249c1-9e2f-4b7b-bbbf-…, reads
# like a word, so a page showing a job id failed now and then.
UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
# Written by Babel from CLDR, not by us: month and day names, AM/PM, and time-zone abbreviations.
CLDR_WORDS = {"AM", "PM", "UTC", "GMT", "BST", "CET", "CEST", "EST", "EDT"}


def cldr_words() -> set[str]:
    from babel import Locale

    words = set(CLDR_WORDS)
    locale = Locale.parse("en_GB")
    for names in (locale.months, locale.days):
        for context in names.values():
            for width in context.values():
                for name in width.values():
                    words.update(WORD.findall(name))
    return words


def data_words(app) -> set[str]:
    """Every word stored in the database (sealed columns opened): the data pages show."""
    from sqlalchemy import select

    from portal.extensions import db

    words = set()

    def collect(value):
        if isinstance(value, str):
            words.update(WORD.findall(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                collect(key)
                collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)

    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                collect(tuple(row))
        db.session.remove()
    return words | cldr_words()


def untranslated(page, allowed: set[str]) -> list[str]:
    """The texts of the page that hold a plain word which is neither data nor written by Babel."""
    found = []
    for text in page.evaluate(TEXTS_JS):
        words = [w for w in WORD.findall(ADDRESS.sub(" ", UUID.sub(" ", text))) if w not in allowed]
        if words:
            found.append(f"{text[:80]!r} ({', '.join(words[:5])})")
    return found
