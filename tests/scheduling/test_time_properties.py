"""Properties of slot times across time zones and daylight-saving changes (portal/scheduling/services.py).

A weekly template says wall-clock hours in the clinic's zone; every slot made from it lasts exactly
its length in real time, starts at a wall-clock time that exists in that zone, and no two overlap,
whatever the day, the zone or a daylight-saving change in between.
"""

from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from hypothesis import example, given, strategies as st

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
# Found at random (HYPOTHESIS_PROFILE=explore): a 45-minute grid whose slot ends inside the skipped hour.
@example("Europe/London", [SimpleNamespace(weekday=6, start_time=time(0, 0), end_time=time(3, 0), slot_minutes=45)],
         date(2030, 3, 31))
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
    # none overlaps another, of the same hours or of other hours that day (overlapping hours included)
    ordered = sorted(set(slots))
    for (_, end), (next_start, _) in zip(ordered, ordered[1:]):
        assert end <= next_start, (end, next_start)


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


def test_a_slot_that_ends_in_the_skipped_hour_is_not_overlapped_by_the_next():
    night = SimpleNamespace(weekday=6, start_time=time(0, 0), end_time=time(4, 30), slot_minutes=45)
    schedule = SimpleNamespace(timezone="Europe/London", templates=[night])
    spring = planned_slots(schedule, date(2030, 3, 31), date(2030, 3, 31))
    # Local 00:00 and 00:45 are GMT (UTC); 00:45-01:30 lasts 45 minutes but ends at 02:30 BST. Local 01:30 does
    # not exist; 02:15 BST (01:15 UTC) would begin inside the slot before it, so the next is 03:00 BST.
    assert [(s.time(), e.time()) for s, e in spring] == [
        (time(0, 0), time(0, 45)), (time(0, 45), time(1, 30)), (time(2, 0), time(2, 45)), (time(2, 45), time(3, 30))]


def test_hours_that_overlap_give_each_time_once():
    # Hours stored before add_weekly_template refused overlaps: the later hours' slots that would begin inside
    # an earlier one are left out.
    morning = SimpleNamespace(weekday=0, start_time=time(9), end_time=time(12), slot_minutes=30)
    late_morning = SimpleNamespace(weekday=0, start_time=time(11), end_time=time(13), slot_minutes=20)
    schedule = SimpleNamespace(timezone="UTC", templates=[late_morning, morning])
    monday = planned_slots(schedule, date(2030, 6, 3), date(2030, 6, 3))
    assert [s.strftime("%H:%M") for s, _ in monday] == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:20", "12:40"]
