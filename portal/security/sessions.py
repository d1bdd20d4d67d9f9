"""Server-side records of signed-in sessions, in Redis: the one place a session begins, is checked and ends.

The browser keeps Flask's signed cookie (CSRF token, flash messages, the user id) plus a random
session id. Redis keeps a record under the SHA-256 of that id, with a TTL: the idle timeout,
never past the absolute lifetime (`SESSION_MAX_HOURS` after sign-in). Every request of a
signed-in user checks the record with ONE Redis command (a Lua script: read, compare, touch,
re-arm the TTL, atomically), so a cookie whose record was deleted (sign-out, password change
or reset, deactivation, role change, "end my other sessions") gets the sign-in page on every
web process and every host that shares the Redis. When Redis cannot be reached, signed-in
requests fail closed: 503, never a session that cannot be checked.

Other modules end a user's sessions with `end_sessions(user)` (or `end_sessions_of(keys)`).
"""

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import redis
from flask import current_app, request, session
from flask_login import login_user

from portal.extensions import redis_client

SESSION_ID = "sid"
RECORD = "session:{digest}"
USER_SESSIONS = "sessions:{user}"  # set of record digests of one user ("staff:3", "partner:7")

# KEYS[1] the record; ARGV: user, now, max lifetime (s), idle (s), touch (1: activity, 0: a background poll).
# Returns {state, value}: state 1 (good), 0 (no such session: ended, or idle past its TTL) or -1 (past the
# absolute lifetime); value that of KEYS[2] when one is given (a key the page reads anyway, such as a live
# page's counter: read in this round trip instead of one of its own), else nil.
_CHECK = """
local function answer(state)
  if KEYS[2] then return {state, redis.call('GET', KEYS[2])} end
  return {state}
end
local found = redis.call('HMGET', KEYS[1], 'user', 'created')
if not found[1] or found[1] ~= ARGV[1] then return answer(0) end
local now = tonumber(ARGV[2])
local left = tonumber(found[2]) + tonumber(ARGV[3]) - now
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return answer(-1)
end
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'last_seen', ARGV[2])
  redis.call('EXPIRE', KEYS[1], math.max(1, math.ceil(math.min(tonumber(ARGV[4]), left))))
end
return answer(1)
"""
GOOD, ENDED, EXPIRED = 1, 0, -1


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _max_seconds() -> float:
    return current_app.config["SESSION_MAX_HOURS"] * 3600


def _idle_seconds() -> float:
    return current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()


def _script():
    scripts = current_app.extensions.setdefault("portal_session_scripts", {})
    if "check" not in scripts:
        scripts["check"] = redis_client().register_script(_CHECK)
    return scripts["check"]


def describe_device(user_agent: str) -> str:
    """'Chrome 120 on Linux': what a person recognises in their list of sessions."""
    from ua_parser import parse

    result = parse(user_agent[:512]) if user_agent else None
    if result is None or result.user_agent is None:
        return "Unknown browser"
    browser = result.user_agent.family + (f" {result.user_agent.major}" if result.user_agent.major else "")
    if result.os is not None and result.os.family != "Other":
        return f"{browser} on {result.os.family}"
    return browser


def begin(user) -> None:
    """Sign the user in: a fresh cookie (no fixation), a new session id and its record in Redis.

    Raises redis.RedisError when Redis is down: no session is started that could not be checked."""
    session.clear()
    session_id = secrets.token_urlsafe(32)
    now = time.time()
    user_key = user.get_id()
    digest = _digest(session_id)
    ttl = max(1, int(min(_idle_seconds(), _max_seconds())))
    with redis_client().pipeline() as pipe:
        pipe.hset(RECORD.format(digest=digest), mapping={
            "user": user_key, "created": repr(now), "last_seen": repr(now),
            "device": describe_device(request.headers.get("User-Agent", "")),
        })
        pipe.expire(RECORD.format(digest=digest), ttl)
        pipe.sadd(USER_SESSIONS.format(user=user_key), digest)
        pipe.expire(USER_SESSIONS.format(user=user_key), int(_max_seconds()) + 60)
        pipe.execute()
    login_user(user)
    session.permanent = True
    session["last_active"] = now
    session[SESSION_ID] = session_id
    session["epoch"] = getattr(user, "session_epoch", 0)


def check(user_key: str, *, activity: bool, also_get: str | None = None) -> tuple[int, bytes | None]:
    """GOOD, ENDED or EXPIRED for the cookie's session, and the value of the key `also_get` (None when not asked
    or not set), read in the same Redis command. Raises redis.RedisError."""
    session_id = session.get(SESSION_ID)
    if not isinstance(session_id, str):
        return ENDED, None
    keys = [RECORD.format(digest=_digest(session_id))] + ([also_get] if also_get else [])
    answer = _script()(keys=keys, args=[user_key, repr(time.time()), int(_max_seconds()), int(_idle_seconds()),
                                        "1" if activity else "0"], client=redis_client())
    return int(answer[0]), (answer[1] if len(answer) > 1 else None)


def end_current(user_key: str) -> None:
    """Sign-out: the record goes, so this cookie, replayed, opens nothing."""
    session_id = session.get(SESSION_ID)
    if not isinstance(session_id, str):
        return
    digest = _digest(session_id)
    with redis_client().pipeline() as pipe:
        pipe.delete(RECORD.format(digest=digest))
        pipe.srem(USER_SESSIONS.format(user=user_key), digest)
        pipe.execute()


def end_sessions_of(user_keys: list[str], keep_current: bool = False) -> int:
    """End every session of these users ("staff:3", "partner:7"), at once, for every web process.
    With keep_current, the session of this request survives. Returns how many were ended."""
    if not user_keys:
        return 0
    client = redis_client()
    with client.pipeline() as pipe:
        for user_key in user_keys:
            pipe.smembers(USER_SESSIONS.format(user=user_key))
        members = pipe.execute()
    current = session.get(SESSION_ID) if keep_current else None
    keep = _digest(current) if isinstance(current, str) else None
    ended = 0
    with client.pipeline() as pipe:
        for user_key, digests in zip(user_keys, members):
            for raw in digests:
                digest = raw.decode()
                if digest == keep:
                    continue
                pipe.delete(RECORD.format(digest=digest))
                pipe.srem(USER_SESSIONS.format(user=user_key), digest)
                ended += 1
        pipe.execute()
    return ended


def end_sessions(user, keep_current: bool = False) -> int:
    """End every session of one user (a StaffUser or PartnerUser)."""
    return end_sessions_of([user.get_id()], keep_current=keep_current)


@dataclass
class ActiveSession:
    digest: str
    device: str
    created: float
    last_seen: float
    current: bool

    @property
    def last_seen_at(self) -> datetime:
        return datetime.fromtimestamp(self.last_seen, timezone.utc).replace(tzinfo=None)

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created, timezone.utc).replace(tzinfo=None)


def active_sessions(user) -> list[ActiveSession]:
    """The user's live sessions, the most recently used first; records gone by TTL are forgotten."""
    client = redis_client()
    user_key = user.get_id()
    digests = sorted(raw.decode() for raw in client.smembers(USER_SESSIONS.format(user=user_key)))
    with client.pipeline() as pipe:
        for digest in digests:
            pipe.hgetall(RECORD.format(digest=digest))
        records = pipe.execute()
    current = session.get(SESSION_ID)
    current_digest = _digest(current) if isinstance(current, str) else None
    live, gone = [], []
    for digest, record in zip(digests, records):
        if not record or record.get(b"user", b"").decode() != user_key:
            gone.append(digest)
            continue
        live.append(ActiveSession(digest=digest, device=record.get(b"device", b"").decode() or "Unknown browser",
                                  created=float(record[b"created"]), last_seen=float(record[b"last_seen"]),
                                  current=digest == current_digest))
    if gone:
        client.srem(USER_SESSIONS.format(user=user_key), *gone)
    return sorted(live, key=lambda s: (not s.current, -s.last_seen))


def end_one(user, digest: str) -> bool:
    """End one of the user's own sessions by its digest (from their list); never another user's."""
    client = redis_client()
    record_key = RECORD.format(digest=digest)
    if client.hget(record_key, "user") != user.get_id().encode():
        return False
    with client.pipeline() as pipe:
        pipe.delete(record_key)
        pipe.srem(USER_SESSIONS.format(user=user.get_id()), digest)
        pipe.execute()
    return True


RedisDown = redis.RedisError
