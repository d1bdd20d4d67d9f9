"""The pseudo-locale: every letter accented, the message wrapped, placeholders and markup kept."""

import re

from portal.i18n.pseudo import CLOSE, OPEN, pseudo


def test_every_ascii_letter_is_accented_and_the_message_is_wrapped():
    shown = pseudo("Check in at the front desk")
    assert shown.startswith(OPEN) and shown.endswith(CLOSE)
    assert not re.search(r"[A-Za-z]", shown)


def test_placeholders_markup_and_entities_survive():
    shown = pseudo('Claim <strong>%(number)s</strong> by %(day)s: see <a href="%(url)s">here</a> &amp; %d {name}')
    for kept in ("<strong>", "%(number)s", "</strong>", "%(day)s", '<a href="%(url)s">', "</a>", "&amp;", "%d",
                 "{name}"):
        assert kept in shown



def test_a_pseudo_message_still_formats():
    assert pseudo("Claim %(number)s, %(count)d left") % {"number": "C-7", "count": 3} == "⟦Çļåîɱ C-7, 3 ļéƒţ⟧"


def test_an_empty_message_stays_empty():
    assert pseudo("") == ""
