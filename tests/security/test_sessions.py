"""Server-side session records: sign-out, password change and "end my other sessions" end sessions at once;
absolute lifetime; a session store that cannot be reached fails closed."""

import time

from sqlalchemy import select

from portal.extensions import db, redis_client
from portal.security.models import AuditEvent
from tests.checkin.conftest import redis_unreachable
from tests.conftest import PASSWORD, csrf_token_from, make_staff, sign_in
from tests.staff.helpers import emails

NEW_PASSWORD = "a brand new staff passphrase"


def _cookie(client) -> str:
    return client.get_cookie("session").value


def _replay(client, value: str):
    client.set_cookie("session", value)
    return client.get("/queue")


def _signed_in(app, email="sara@test.example", role="secretary"):
    make_staff(app, role, email)
    client = app.test_client(use_cookies=True)
    assert sign_in(client, email).status_code == 302
    return client


def _token(client, path="/account/sessions") -> str:
    return csrf_token_from(client.get(path).get_data(as_text=True))


def test_a_cookie_replayed_after_sign_out_gets_the_sign_in_page(app):
    client = _signed_in(app)
    captured = _cookie(client)
    assert client.get("/queue").status_code == 200
    assert client.post("/logout", data={"csrf_token": _token(client)}).status_code == 302
    response = _replay(client, captured)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert _replay(client, captured).status_code == 302  # and stays out


def test_each_sign_in_has_a_record_whose_ttl_is_the_idle_timeout(app):
    _signed_in(app)
    with app.app_context():
        keys = redis_client().keys("session:*")
        assert len(keys) == 1
        assert 0 < redis_client().ttl(keys[0]) <= 15 * 60
        record = redis_client().hgetall(keys[0])
    assert record[b"user"].startswith(b"staff:") and b"device" in record


def test_past_the_absolute_lifetime_even_an_active_session_ends(app):
    client = _signed_in(app)
    assert client.get("/queue").status_code == 200
    with app.app_context():
        key = redis_client().keys("session:*")[0]
        redis_client().hset(key, "created", repr(time.time() - 12 * 3600 - 1))  # signed in 12 h ago
    response = client.get("/queue")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    with app.app_context():
        assert redis_client().exists(key) == 0
    assert "time limit" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_deleted_record_ends_the_session_on_its_next_request(app):
    client = _signed_in(app)
    with app.app_context():
        redis_client().delete(*redis_client().keys("session:*"))
    response = client.get("/queue", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")


def test_staff_see_their_sessions_and_end_the_others(app):
    laptop = _signed_in(app)
    phone = app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1")
    assert sign_in(phone, "sara@test.example").status_code == 302
    page = laptop.get("/account/sessions").get_data(as_text=True)
    assert "Mobile Safari 17 on iOS" in page and "this browser" in page
    response = laptop.post("/account/sessions/end-others", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 302
    assert phone.get("/queue").status_code == 302
    assert laptop.get("/queue").status_code == 200
    page = laptop.get("/account/sessions").get_data(as_text=True)
    assert "Mobile Safari" not in page
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "staff.sessions_ended")) == {
            "ended": 1}


def _records(app) -> dict[str, str]:
    """digest -> user key of every session record."""
    with app.app_context():
        return {k.decode().split(":")[1]: redis_client().hget(k, "user").decode()
                for k in redis_client().keys("session:*")}


def test_one_session_can_be_ended_but_not_another_users(app):
    first = _signed_in(app)
    before = _records(app)
    second = app.test_client()
    assert sign_in(second, "sara@test.example").status_code == 302
    (second_digest,) = set(_records(app)) - set(before)
    other = _signed_in(app, "dan@test.example")
    (dans_digest,) = set(_records(app)) - set(before) - {second_digest}
    token = _token(first)
    assert first.post(f"/account/sessions/{dans_digest}/end", data={"csrf_token": token}).status_code == 404
    assert first.post(f"/account/sessions/{second_digest}/end", data={"csrf_token": token}).status_code == 302
    assert second.get("/queue").status_code == 302
    assert other.get("/queue").status_code == 200 and first.get("/queue").status_code == 200


def test_ending_sessions_needs_the_csrf_token(app):
    client = _signed_in(app)
    assert client.post("/account/sessions/end-others").status_code == 400


def test_a_password_change_ends_every_other_session_and_old_cookies(app):
    laptop = _signed_in(app)
    before_change = _cookie(laptop)
    phone = app.test_client()
    assert sign_in(phone, "sara@test.example").status_code == 302
    page = laptop.get("/account/password").get_data(as_text=True)
    response = laptop.post("/account/password", data={"csrf_token": csrf_token_from(page), "current": PASSWORD,
                                                        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert laptop.get("/queue").status_code == 200  # this browser got a fresh session
    assert phone.get("/queue").status_code == 302
    assert _replay(app.test_client(), before_change).status_code == 302
    assert sign_in(app.test_client(), "sara@test.example", NEW_PASSWORD).status_code == 302
    (told,) = emails(app, "staff_password_changed", "sara@test.example")
    assert "changed in your account settings" in told.body


def test_a_weak_or_wrong_password_change_is_refused_with_the_reason(app):
    client = _signed_in(app)
    token = _token(client, "/account/password")
    wrong = client.post("/account/password", data={"csrf_token": token, "current": "not it at all",
                                                   "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert wrong.status_code == 422 and "not your current password" in wrong.get_data(as_text=True)
    for weak, reason in [("short one", "at least 12"), ("password1234", "too common"), ("qwertyuiop123", "too common"),
                         ("sara-is-the-best-1", "e-mail address")]:
        response = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                          "password": weak, "confirm": weak})
        assert response.status_code == 422 and reason in response.get_data(as_text=True), weak
    assert client.get("/queue").status_code == 200


def test_signed_in_requests_fail_closed_when_the_session_store_is_unreachable(app):
    client = _signed_in(app)
    with redis_unreachable(app):
        response = client.get("/queue")
        assert response.status_code == 503
        assert "session store" in response.get_data(as_text=True)
        # Signing in is refused too, rather than handing out a session nobody can check.
        fresh = app.test_client()
        refused = sign_in(fresh, "sara@test.example")
        assert refused.status_code == 503 and "session store" in refused.get_data(as_text=True)
    assert client.get("/queue").status_code == 200  # back when Redis is


def test_the_session_store_outage_is_explained_in_the_readers_language(app):
    client = _signed_in(app)
    with redis_unreachable(app):
        response = client.get("/queue", headers={"Accept-Language": "nb"})
    assert response.status_code == 503
    assert "øktlageret kan ikke nås" in response.get_data(as_text=True)


def test_background_polls_do_not_move_last_seen(app):
    client = _signed_in(app)
    with app.app_context():
        key = redis_client().keys("session:*")[0]
        redis_client().hset(key, "last_seen", "1000")
    client.post("/queue/poll?since=0", headers={"HX-Request": "true", "X-CSRFToken": _token(client, "/queue")})
    with app.app_context():
        assert redis_client().hget(key, "last_seen") != b"1000"  # the GET of /queue for the token was activity
        redis_client().hset(key, "last_seen", "1000")
    client.post("/queue/poll?since=0", headers={"HX-Request": "true", "X-CSRFToken": _token(client, "/queue")})
    with app.app_context():
        assert redis_client().hget(key, "last_seen") != b"1000"


def _redis_calls(app) -> dict[str, int]:
    with app.app_context():
        stats = redis_client().info("commandstats")
    return {name: value["calls"] for name, value in stats.items()}


def test_the_session_check_is_one_redis_command_per_request(app):
    client = _signed_in(app)
    assert client.get("/account/password").status_code == 200  # warm: the script is loaded once per process
    with app.app_context():
        redis_client().config_resetstat()
    assert client.get("/account/password").status_code == 200
    calls = _redis_calls(app)
    for ours in ("cmdstat_info", "cmdstat_config"):
        calls.pop(ours, None)
    # commandstats also counts what the script runs inside Redis; the one round trip is the EVALSHA.
    inside_the_script = {"cmdstat_hmget", "cmdstat_hset", "cmdstat_expire"}
    assert calls.pop("cmdstat_evalsha") == 1 and set(calls) <= inside_the_script, calls
