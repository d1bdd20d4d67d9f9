"""Dates, times, numbers and money as each language and region writes them, in the zone of the place."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from portal.i18n import formatting
from portal.i18n.languages import speaking

MOMENT = datetime(2030, 2, 7, 8, 5)  # naive = UTC: 09:05 in Oslo, 08:05 in London, 03:05 in New York


@pytest.fixture
def in_request(app):
    with app.test_request_context("/"):
        yield


@pytest.fixture
def region(app):
    """Run as an install of another region for a while: `region("NO")`."""
    saved = {k: app.config[k] for k in ("PORTAL_REGION", "PORTAL_LANGUAGE", "PORTAL_TIME_ZONE", "PORTAL_CURRENCY")}
    values = {"NO": ("nb", "Europe/Oslo", "NOK"), "GB": ("en", "Europe/London", "GBP"),
              "US": ("en", "America/New_York", "USD")}

    def use(code):
        language, zone, currency = values[code]
        app.config.update(PORTAL_REGION=code, PORTAL_LANGUAGE=language, PORTAL_TIME_ZONE=zone, PORTAL_CURRENCY=currency)

    yield use
    app.config.update(saved)


def test_a_day_in_bokmal_british_and_american_english(in_request, region):
    region("NO")
    with speaking("nb"):
        assert formatting.day(date(2030, 2, 7)) == "7. februar 2030"
        assert formatting.day(date(2030, 2, 7), form="full") == "torsdag 7. februar 2030"
    region("GB")
    with speaking("en"):
        assert formatting.day(date(2030, 2, 7)) == "7 February 2030"
    region("US")
    with speaking("en"):
        assert formatting.day(date(2030, 2, 7)) == "February 7, 2030"


def test_times_are_shown_where_the_care_happens_with_the_zone_when_it_is_not_the_viewers(in_request, region):
    region("NO")
    with speaking("nb"):
        assert formatting.clock(MOMENT, "Europe/Oslo") == "09:05"
        assert formatting.clock(MOMENT, "Europe/London") == "08:05 GMT"
        assert formatting.when(MOMENT, "Europe/Oslo") == "7. feb. 2030, 09:05"
    region("US")
    with speaking("en"):
        assert formatting.clock(MOMENT, "America/New_York") == "3:05\u202fAM"
        assert formatting.clock(MOMENT, "Europe/Oslo") == "9:05\u202fAM CET"
        assert formatting.clock(MOMENT, "Europe/Oslo", show_zone=False) == "9:05\u202fAM"


def test_a_london_slot_at_nine_is_at_nine_in_winter_and_in_summer(in_request, region):
    winter, summer = datetime(2030, 1, 7, 9, 0), datetime(2030, 7, 8, 8, 0)  # stored in UTC
    region("GB")
    with speaking("en"):
        assert [formatting.clock(t, "Europe/London") for t in (winter, summer)] == ["09:00", "09:00"]
        assert formatting.slot(summer, "Europe/London") == "Mon 8 Jul, 09:00"
    region("NO")  # read in an Oslo install, the London clock says which time it is
    with speaking("nb"):
        assert [formatting.clock(t, "Europe/London") for t in (winter, summer)] == ["09:00 GMT", "09:00 BST"]
        assert formatting.clock(summer, "Europe/Oslo") == "10:00"


def test_a_late_evening_in_utc_is_the_next_day_in_oslo(in_request, region):
    region("NO")
    with speaking("nb"):
        assert formatting.day(datetime(2030, 2, 7, 23, 30), "Europe/Oslo") == "8. februar 2030"
        assert formatting.day(datetime(2030, 2, 7, 23, 30), "Europe/London") == "7. februar 2030"


def test_money_and_numbers_by_language_and_region(in_request, region):
    region("NO")
    with speaking("nb"):
        assert formatting.money(Decimal("1234.50")) == "1\u00a0234,50\u00a0kr"
        assert formatting.number(1234567.5) == "1\u00a0234\u00a0567,5"
    region("GB")
    with speaking("en"):
        assert formatting.money(Decimal("1234.50")) == "£1,234.50"
        assert formatting.money(Decimal("20"), "NOK") == "NOK20.00"  # CLDR en_GB: code, no space
    region("US")
    with speaking("en"):
        assert formatting.money(Decimal("1234.5")) == "$1,234.50"


def test_ages_and_durations_speak_the_language(in_request):
    with speaking("nb"):
        assert formatting.duration(timedelta(days=2, hours=3)) == "2 døgn 3 t"
        assert formatting.duration(timedelta(seconds=20)) == "under ett minutt"
        assert formatting.age(formatting.utcnow() - timedelta(days=1, hours=2)) == "for 1 dag siden"
        assert formatting.age(formatting.utcnow() - timedelta(days=3)) == "for 3 dager siden"
    with speaking("en"):
        assert formatting.duration(timedelta(hours=1, minutes=5)) == "1 h 5 min"
        assert formatting.age(formatting.utcnow() - timedelta(days=3)) == "3 days ago"


def test_a_time_tag_carries_utc_for_machines_and_local_words_for_people(in_request, region):
    region("NO")
    with speaking("nb"):
        assert str(formatting.time_tag(MOMENT, "Europe/Oslo")) == \
            '<time datetime="2030-02-07T08:05:00Z">7. feb. 2030, 09:05</time>'


def test_a_list_s_time_tags_read_as_time_tag_does(in_request, region):
    region("NO")
    for language in ("nb", "en"):
        with speaking(language):
            tag = formatting.time_tags()
            for where in ("Europe/Oslo", "Europe/London", None):
                assert tag(MOMENT, where) == formatting.time_tag(MOMENT, where)
            assert str(tag(MOMENT, "Europe/London")) == (
                '<time datetime="2030-02-07T08:05:00Z">7. feb. 2030, 08:05 GMT</time>' if language == "nb" else
                '<time datetime="2030-02-07T08:05:00Z">7 Feb 2030, 08:05 GMT</time>')
            assert tag(None) == ""


def test_a_page_speaking_one_language_writes_a_message_in_another(app, region):
    region("GB")
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        with speaking("nb"):
            assert formatting.duration(timedelta(minutes=3)) == "3 min"
            assert formatting.age(formatting.utcnow()) == "akkurat nå"
        assert formatting.age(formatting.utcnow()) == "just now"


def test_the_installs_zone_is_read_from_the_settings_every_time(in_request, region):
    region("NO")
    assert formatting.zone(None).key == "Europe/Oslo"
    region("GB")
    assert formatting.zone(None).key == "Europe/London"  # not the first answer, kept
