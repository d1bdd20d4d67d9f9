"""The pseudo-locale `en-XA`: every message accented and wrapped in ⟦…⟧, so text that never went through
gettext stands out as plain ASCII. Development and tests only (`PSEUDO_LOCALE`); the browser sweep reads
every page in it and fails on any word left unaccented that is not data (tests/browser/test_sweep.py)."""

import re
from functools import lru_cache

from babel.support import NullTranslations

CODE = "en_XA"  # what a session or preference stores; <html lang="en-XA"> (XA: a private-use region)
OPEN, CLOSE = "⟦", "⟧"
_ACCENTED = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "åƀçðéƒĝĥîĵķļɱñöþǫŕšţûṽŵẋýžÅƁÇÐÉƑĜĤÎĴĶĻṀÑÖÞǪŔŠŢÛṼŴẊÝŽ",
)
# Left as they are: printf placeholders, str.format fields, markup and entities inside a message.
_KEEP = re.compile(r"%\([a-z_0-9]+\)[sdfr]|%[sdfr%]|\{[a-z_0-9]*\}|<[^>]*>|&[a-z#0-9]+;", re.IGNORECASE)


@lru_cache(maxsize=8192)
def pseudo(message: str) -> str:
    """'Check in at %(time)s' → '⟦Çĥéçķ îñ åţ %(time)s⟧'."""
    if not message:
        return message
    parts, last = [], 0
    for match in _KEEP.finditer(message):
        parts.append(message[last:match.start()].translate(_ACCENTED))
        parts.append(match.group(0))
        last = match.end()
    parts.append(message[last:].translate(_ACCENTED))
    return OPEN + "".join(parts) + CLOSE


class PseudoTranslations(NullTranslations):
    """Every message in pseudo form, from the message ids themselves: no catalog to build."""

    def gettext(self, message):
        return pseudo(message)

    def ngettext(self, singular, plural, n):
        return pseudo(singular if n == 1 else plural)

    def pgettext(self, context, message):
        return pseudo(message)

    def npgettext(self, context, singular, plural, n):
        return pseudo(singular if n == 1 else plural)

    ugettext, ungettext, upgettext, unpgettext = gettext, ngettext, pgettext, npgettext
