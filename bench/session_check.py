"""The cost of the per-request session check: one EVALSHA of the check script, next to a PING (the
cheapest possible round trip to the same Redis) and to a whole signed-in request of a light page
(`/account/password`, in process). Prints figures; no pass/fail.

    .venv/bin/python bench/session_check.py [--n 2000]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if not os.environ.get("DATABASE_URL"):
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="care-portal-bench-")
os.environ.update(RATELIMIT_ENABLED="0", LOG_LEVEL="WARNING", TWO_FACTOR_REQUIRED_ROLES="")


def timed(n, call) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    n = parser.parse_args().n
    from flask_migrate import upgrade
    from harness import csrf_field

    from portal import create_app
    from portal.extensions import redis_client
    from portal.redis_embedded import stop_embedded_redis
    from portal.security import sessions
    from portal.security.staff_users import create_or_update_user

    app = create_app({"TESTING": True})
    with app.app_context():
        upgrade()
        create_or_update_user("bench@example.org", "bench session passphrase", "secretary", "Bench")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = csrf_field(page)
    client.post("/login", data={"email": "bench@example.org", "password": "bench session passphrase",
                                "csrf_token": token})
    with client.session_transaction() as cookie:
        sid, user_key = cookie["sid"], cookie["_user_id"]
    with app.test_request_context():
        from flask import session

        session["sid"] = sid
        redis = redis_client()
        ping = timed(n, redis.ping)
        check = timed(n, lambda: sessions.check(user_key, activity=True))
    request = timed(max(n // 10, 50), lambda: client.get("/account/password"))
    for name, values in (("PING round trip", ping), ("session check (EVALSHA)", check),
                         ("whole request GET /account/password", request)):
        p99 = sorted(values)[int(len(values) * .99) - 1]
        print(f"{name:<38} p50 {statistics.median(values):8.1f} us   p99 {p99:8.1f} us")
    print(f"check / ping (p50): {statistics.median(check) / statistics.median(ping):.2f}; "
          f"check / request (p50): {statistics.median(check) / statistics.median(request):.1%}")
    if not os.environ.get("REDIS_URL"):
        stop_embedded_redis(app.config["INSTANCE_PATH"])


if __name__ == "__main__":
    main()
