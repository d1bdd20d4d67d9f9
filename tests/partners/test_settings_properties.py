"""Properties of the partner settings' checks (portal/partners/settings.py): the eligibility rules and
the issuer URL are stored checked or refused with InvalidSetting naming the field, whatever is sent
(the admin form and `create-partner --rules JSON` both go through them)."""

import unicodedata

from hypothesis import given, strategies as st

from portal.partners.settings import InvalidSetting, check_eligibility_rules, check_issuer
from tests.test_input_rules import json_values, names

RULE_KEYS = ["triage_symptoms", "triage_min_age", "triage_max_age"]


@given(st.dictionaries(st.sampled_from(RULE_KEYS) | st.text(max_size=10), json_values) | json_values)
def test_any_rules_are_stored_checked_or_refused_naming_the_rule(rules):
    try:
        checked = check_eligibility_rules(rules)
    except InvalidSetting as exc:
        assert exc.field in ("rules", *RULE_KEYS) and str(exc)
        return
    assert set(checked) <= set(RULE_KEYS)
    assert check_eligibility_rules(checked) == checked  # stored rules pass again unchanged


@given(st.lists(names, max_size=10), st.none() | st.integers(0, 130), st.none() | st.integers(0, 130))
def test_valid_rules_round_trip_in_nfc_lower_case(symptoms, oldest, youngest):
    rules = {"triage_symptoms": symptoms, "triage_min_age": oldest, "triage_max_age": youngest}
    try:
        checked = check_eligibility_rules(rules)
    except InvalidSetting as exc:
        assert exc.field == "triage_max_age" or exc.field == "triage_symptoms"
        return
    expected = list(dict.fromkeys(unicodedata.normalize("NFC", s).lower() for s in symptoms))
    assert checked.get("triage_symptoms", []) == expected


@given(st.text(max_size=80) | st.from_regex(r"\Ahttps?://[a-z0-9.\-]{1,30}(:[0-9]{1,5})?(/[a-z]{0,10})?\Z"))
def test_any_issuer_is_a_checked_url_or_refused(issuer):
    try:
        checked = check_issuer(issuer)
    except InvalidSetting as exc:
        assert exc.field == "idp_issuer"
        return
    assert checked.startswith(("https://", "http://"))
