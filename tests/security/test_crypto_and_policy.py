"""Units: field encryption, blind index, and the policy module."""

import base64
import os
from types import SimpleNamespace

import pytest

from portal.security import policy
from portal.security.crypto import DecryptionError, KeyRing, blind_index


def key(n: int) -> str:
    return base64.urlsafe_b64encode(bytes([n]) * 32).decode()


def test_sealed_values_open_only_for_their_purpose():
    ring = KeyRing.parse(f"k1:{key(1)}")
    sealed = ring.seal("13116900216", "patient.national_id")
    assert "13116900216" not in sealed and sealed.startswith("k1:")
    assert ring.open(sealed, "patient.national_id") == "13116900216"
    with pytest.raises(DecryptionError):
        ring.open(sealed, "referral.payload")


def test_same_value_seals_differently_each_time():
    ring = KeyRing.parse(f"k1:{key(1)}")
    assert ring.seal("x", "p") != ring.seal("x", "p")


def test_tampered_ciphertext_does_not_open():
    ring = KeyRing.parse(f"k1:{key(1)}")
    kid, _, body = ring.seal("secret", "p").partition(":")
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(DecryptionError):
        ring.open(f"{kid}:{base64.b64encode(bytes(raw)).decode()}", "p")


def test_new_key_first_still_opens_old_values():
    old = KeyRing.parse(f"k1:{key(1)}")
    sealed = old.seal("value", "p")
    rotated = KeyRing.parse(f"k2:{key(2)},k1:{key(1)}")
    assert rotated.open(sealed, "p") == "value"
    assert rotated.seal("value", "p").startswith("k2:")
    with pytest.raises(DecryptionError):
        KeyRing.parse(f"k2:{key(2)}").open(sealed, "p")


def test_key_spec_must_hold_32_byte_keys():
    with pytest.raises(ValueError):
        KeyRing.parse("k1:" + base64.urlsafe_b64encode(os.urandom(16)).decode())


def test_blind_index_is_stable_keyed_and_kind_separated(app):
    with app.app_context():
        first = blind_index("fnr", "13116900216")
        assert first == blind_index("fnr", "13116900216")
        assert first != blind_index("other", "13116900216")
        app.config["BLIND_INDEX_KEY"], saved = "another key", app.config["BLIND_INDEX_KEY"]
        try:
            assert blind_index("fnr", "13116900216") != first
        finally:
            app.config["BLIND_INDEX_KEY"] = saved


@pytest.mark.parametrize("role, allowed", [("secretary", True), ("admin", True), ("doctor", False),
                                           ("reporting", False)])
def test_who_may_screen_referrals(role, allowed):
    user = SimpleNamespace(is_authenticated=True, role=role)
    assert policy.can(user, "referral.screen") is allowed
    assert policy.can(user, "referral.view", SimpleNamespace(id=1)) is allowed


def test_anonymous_may_do_nothing():
    assert policy.can(SimpleNamespace(is_authenticated=False, role="admin"), "referral.view") is False


def test_unknown_actions_are_denied():
    assert policy.can(SimpleNamespace(is_authenticated=True, role="admin"), "no.such.action") is False


@pytest.mark.parametrize("role", ["doctor", "secretary", "admin", "reporting", "viewer"])
@pytest.mark.parametrize("action", ["consultation.view", "consultation.pick", "consultation.cancel",
                                    "consultation.conduct", "referral.view", "no.such.action"])
def test_a_lists_rule_for_rows_answers_as_can_does_for_each_row(role, action):
    user = SimpleNamespace(is_authenticated=True, role=role, id=7)
    rows = [SimpleNamespace(id=n, service_provider_id=doctor) for n, doctor in enumerate((None, 7, 8))]
    may = policy.rule_for_rows(user, action)
    assert [may(row) for row in rows] == [policy.can(user, action, row) for row in rows]


def test_a_doctor_may_view_only_free_or_own_rows_and_the_anonymous_none():
    doctor = SimpleNamespace(is_authenticated=True, role="doctor", id=7)
    may = policy.rule_for_rows(doctor, "consultation.view")
    assert [may(SimpleNamespace(service_provider_id=d)) for d in (None, 7, 8)] == [True, True, False]
    nobody = policy.rule_for_rows(SimpleNamespace(is_authenticated=False, role="admin"), "consultation.view")
    assert nobody(SimpleNamespace(service_provider_id=None)) is False


@pytest.mark.parametrize(("role", "allowed"), [("secretary", True), ("admin", True), ("doctor", False),
                                               ("reporting", False), ("viewer", False)])
def test_records_known_by_id_only_open_for_screeners_not_doctors(role, allowed):
    user = SimpleNamespace(is_authenticated=True, role=role, id=7)
    assert policy.may_open_records_by_id(user) is allowed
    assert all(policy.can(user, "patient_record.view", policy.PatientRelation(pid)) is allowed for pid in (1, 2))
