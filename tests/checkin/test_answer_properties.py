"""Properties of check-in's answers (portal/checkin/services.py) and the identity check it shares
with consultations (portal/security/patient_check.py).

Any stored answers give a next step or the end, never an exception; answering whatever is asked
ends within one step per question; the identity check ignores case and spacing, nothing else.
"""

from datetime import date
from types import SimpleNamespace

from hypothesis import given, strategies as st

from portal.checkin.services import (
    ASK,
    DEMOGRAPHICS,
    FILE,
    FILE_LATER,
    NOT_ELIGIBLE,
    REVIEW,
    TRAVEL,
    first_travel_no,
    next_question,
    travel_choice,
)
from portal.security.patient_check import identity_matches
from portal.travel_pay.agreement import current_agreement
from tests.test_input_rules import names

QUESTION_NAMES = [q.name for q in DEMOGRAPHICS + TRAVEL] + [ASK.name, REVIEW.name]
answer_values = st.booleans() | st.none() | st.text(max_size=10) | st.integers()


@given(st.dictionaries(st.sampled_from(QUESTION_NAMES) | st.text(max_size=10), answer_values), st.booleans())
def test_any_stored_answers_give_a_next_step_or_the_end(app_ctx, answers, travel_offered):
    step = next_question(answers, travel_offered)
    assert step is None or step.name in QUESTION_NAMES
    assert travel_choice(answers) in (FILE, FILE_LATER, NOT_ELIGIBLE)
    no = first_travel_no(answers)
    assert no is None or answers[no.name] is False


@given(st.booleans(), st.lists(st.booleans(), min_size=len(QUESTION_NAMES), max_size=len(QUESTION_NAMES)))
def test_answering_what_is_asked_ends_within_one_step_per_question(app_ctx, travel_offered, replies):
    answers: dict = {}
    for reply in replies:
        step = next_question(answers, travel_offered)
        if step is None:
            break
        answers[step.name] = (current_agreement().version if reply else False) if step is REVIEW else reply
    assert next_question(answers, travel_offered) is None
    if travel_offered and travel_choice(answers) == FILE:
        assert all(answers[q.name] is True for q in TRAVEL)
        assert answers[REVIEW.name] == current_agreement().version


born = st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 1, 1))


@given(names, born, st.sampled_from([str.upper, str.lower, str.title, lambda s: f"  {s} "]))
def test_the_identity_check_ignores_case_and_spacing(last_name, birth_date, typed):
    patient = SimpleNamespace(last_name=last_name, birth_date=birth_date)
    assert identity_matches(patient, last_name=typed(last_name), birth_date=birth_date) is \
        (typed(last_name).casefold().split() == last_name.casefold().split())


@given(names, born, st.text(max_size=40), st.none() | born)
def test_the_identity_check_never_matches_another_birth_date(last_name, birth_date, typed, other):
    patient = SimpleNamespace(last_name=last_name, birth_date=birth_date)
    matched = identity_matches(patient, last_name=typed, birth_date=other)
    assert not matched or other == birth_date
