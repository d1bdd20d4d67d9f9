"""Password and API-secret hashing: argon2 at RFC 9106's low-memory cost, except in the test app.

The test app (tests/conftest.py) sets PASSWORD_HASHING = "cheapest" so the suite's hundreds of sign-ins
do not pay 64 MiB and three passes each; these tests pin that the setting changes nothing else."""

from argon2 import extract_parameters, profiles

from portal.security.models import hash_secret, verify_secret

STANDARD = profiles.RFC_9106_LOW_MEMORY


def test_an_app_that_is_not_testing_hashes_at_the_standard_cost_whatever_the_setting(app, monkeypatch):
    monkeypatch.setitem(app.config, "TESTING", False)
    with app.app_context():
        hashed = hash_secret("correct horse")
    parameters = extract_parameters(hashed)
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == \
        (STANDARD.memory_cost, STANDARD.time_cost, STANDARD.parallelism) == (65536, 3, 4)


def test_outside_any_app_secrets_are_hashed_at_the_standard_cost():
    assert extract_parameters(hash_secret("correct horse")).memory_cost == STANDARD.memory_cost


def test_the_test_app_hashes_cheaply_and_both_costs_verify_in_either_app(app, monkeypatch):
    with app.app_context():
        cheap = hash_secret("correct horse")
        assert extract_parameters(cheap).memory_cost < STANDARD.memory_cost
    monkeypatch.setitem(app.config, "TESTING", False)
    with app.app_context():
        standard = hash_secret("correct horse")
        assert verify_secret(cheap, "correct horse") and not verify_secret(cheap, "wrong horse")
    monkeypatch.setitem(app.config, "TESTING", True)
    with app.app_context():
        assert verify_secret(standard, "correct horse") and not verify_secret(standard, "wrong horse")
