"""Pages' CSRF tokens are signed once a minute per session (and process), and CSRF protection takes them as
Flask-WTF's own."""

import itsdangerous.timed

from tests.conftest import csrf_token_from


def test_a_sessions_pages_within_a_minute_carry_one_signed_token_that_is_accepted(app, staff_client, monkeypatch):
    # Each signature is a second later than the one before, so Flask-WTF alone would sign a new token per page.
    seconds = iter(range(1_800_000_000, 1_800_001_000))
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda signer: next(seconds))
    secretary, doctor = staff_client("secretary"), staff_client("doctor")
    first = csrf_token_from(secretary.get("/queue").get_data(as_text=True))
    second = csrf_token_from(secretary.get("/queue").get_data(as_text=True))
    assert second == first
    assert secretary.post("/queue", data={"csrf_token": second, "q": "nobody"}).status_code == 200
    theirs = csrf_token_from(doctor.get("/consultations").get_data(as_text=True))
    assert theirs != first
    assert secretary.post("/queue", data={"csrf_token": theirs, "q": "nobody"}).status_code == 400
