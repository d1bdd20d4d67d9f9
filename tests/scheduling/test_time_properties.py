"""Properties of slot times across time zones and daylight-saving changes (portal/scheduling/services.py).

A weekly template says wall-clock hours in the clinic's zone; every slot made from it lasts exactly
its length in real time, starts at a wall-clock time that exists in that zone, and no two overlap,
whatever the day, the zone or a daylight-saving change in between.
"""

from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from hypothesis import given, strategies as st

from portal.scheduling.forms import TIMEZONES
from portal.scheduling.services import planned_slots

# Days around the changes of 2030 in Europe (31 March, 27 October) and any other week.
change_days = st.sampled_from([date(2030, 3, 31), date(2030, 10, 27)]) | st.dates(date(2025, 1, 1), date(2040, 1, 1))


@st.composite
def templates(draw):
    start = draw(st.integers(0, 23 * 4)) * 15
    length = draw(st.sampled_from([5, 10, 15, 20, 30, 45, 60]))
    end = min(start + draw(st.integers(1, 12)) * length, 24 * 60 - 1)
    return SimpleNamespace(weekday=draw(st.integers(0, 6)), start_time=time(start // 60, start % 60),
                           end_time=time(end // 60, end % 60), slot_minutes=length)


@given(st.sampled_from([zone for zone, _ in TIMEZONES]), st.lists(templates(), min_size=1, max_size=3), change_days)
def test_slots_last_their_length_exist_on_the_wall_clock_and_never_overlap(zone_name, weekly, around):
    schedule = SimpleNamespace(timezone=zone_name, templates=weekly)
    zone = ZoneInfo(zone_name)
    slots = planned_slots(schedule, around - timedelta(days=3), around + timedelta(days=3))
    by_length = {t.slot_minutes for t in weekly}
    for start, end in slots:
        assert (end - start) in {timedelta(minutes=m) for m in by_length}
        local = start.replace(tzinfo=timezone.utc).astimezone(zone)
        assert any(local.time() >= t.start_time and local.weekday() == t.weekday for t in weekly)
        # the wall-clock start exists: going to UTC and back gives the same clock time
        assert datetime.combine(local.date(), local.time(), tzinfo=zone).astimezone(timezone.utc) == \
            start.replace(tzinfo=timezone.utc)
    ordered = sorted(set(slots))
    for (_, end), (next_start, _) in zip(ordered, ordered[1:]):
        same_template_overlap = end > next_start and len(weekly) == 1
        assert not same_template_overlap, (end, next_start)


def test_the_skipped_and_the_repeated_hour_give_no_impossible_slots():
    night = SimpleNamespace(weekday=6, start_time=time(0, 30), end_time=time(3, 30), slot_minutes=30)
    schedule = SimpleNamespace(timezone="Europe/London", templates=[night])
    spring = planned_slots(schedule, date(2030, 3, 31), date(2030, 3, 31))
    # Local 00:30 is GMT; then the clocks jump from 01:00 to 02:00, so local 01:00 and 01:30 do not exist;
    # local 02:00, 02:30 and 03:00 (BST) are 01:00, 01:30 and 02:00 UTC. Times below are UTC.
    assert [(s.time(), e.time()) for s, e in spring] == [
        (time(0, 30), time(1, 0)), (time(1, 0), time(1, 30)), (time(1, 30), time(2, 0)), (time(2, 0), time(2, 30))]
    autumn = planned_slots(schedule, date(2030, 10, 27), date(2030, 10, 27))
    assert all(e - s == timedelta(minutes=30) for s, e in autumn)
    assert len(set(autumn)) == len(autumn)
