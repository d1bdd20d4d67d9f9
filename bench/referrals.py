"""Referral intake and the two queues (secretary and doctor) benchmark. Prints figures; never fails on timing.

    .venv/bin/python bench/referrals.py            # 100k consultations, 10k open referrals, 10 s runs
    .venv/bin/python bench/referrals.py --quick    # 5k consultations, 1k open referrals, 3 s runs

One run, on a fresh temporary instance folder (its own SQLite file unless `--database-url`, and embedded Redis):

1. migrate, bulk-load consultations with their patients and open referrals, add a secretary and a doctor;
2. start gunicorn (4 workers, gthread with gunicorn.conf.py's 2 threads each as in production, or `--threads`)
   on a free loopback port, with rate limiting off;
3. measure `/healthz` (the hello-world floor), `GET /queue` signed in as the secretary, `GET /consultations`
   (the doctors' queue) signed in as the doctor, and the
   webhook `POST /api/referrals` with a NEW validly signed referral per request; at 32 clients hello-world and
   intake alternate for `--rounds` pairs and the pair with the median ratio is reported (this machine's
   speed drifts within a minute);
4. stop gunicorn and the embedded Redis and remove the folder.

`wrk` drives everything, on keep-alive connections. The webhook needs an HMAC per request, which wrk's Lua
cannot compute, so its requests are signed beforehand in Python and wrk sends them from files, one new referral
per request (harness.run_wrk_pool): intake and hello-world are driven by the same client in the same run. (Until
2026-12-03 a multi-process Python generator fired the webhook, and its own hello-world was printed beside wrk's.)

`--intake-only` measures hello-world and the webhook alone (a short check of intake); `--database-url`
runs on a PostgreSQL database of yours instead of a new SQLite file (its public schema is replaced).
"""

import argparse
import json
import math
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from harness import Gunicorn, fresh_schema, run_wrk, run_wrk_pool, with_cpu

ROOT = Path(__file__).resolve().parent.parent
SECRETARY = "secretary@bench.example"
DOCTOR = "doctor@bench.example"
PASSWORD = "bench-password-1"
USER_AGENT = "care-portal-bench/1"  # the same for requests and wrk: sessions are bound to it

# Issue 17: intake at 32 clients at least a quarter of hello-world's rate in the same run (the median round).
# A rate in requests/s alone (800/s, an older target) says more about the machine than about the portal.
INTAKE_TARGET_RATIO = 0.25
QUEUE_TARGET_P99_MS = 30.0

FIRST_NAMES = ["Line", "Ola", "Kari", "Per", "Ingrid", "Nils", "Astrid", "Lars", "Sofie", "Emil", "Nora", "Jonas"]
LAST_NAMES = ["Danser", "Nordmann", "Hansen", "Olsen", "Berg", "Dahl", "Johansen", "Larsen", "Haugen", "Bakke"]
FORMAT_ID = "http://ehelse.no/xmlstds/henvisning/2017-11-30"

# --------------------------------------------------------------------------- data


def _plain_table(model_table):
    """The model's table for Core inserts, with sealed columns as plain text (we seal them ourselves)."""
    from sqlalchemy import Text, column, table

    from portal.security.crypto import EncryptedText

    return table(model_table.name, *[
        column(c.name, Text() if isinstance(c.type, EncryptedText) else c.type) for c in model_table.columns
    ])


def _fnr_pool(rng: random.Random, size: int) -> list[str]:
    from portal.sandbox.referral_system import random_fodselsnummer

    return [random_fodselsnummer(rng) for _ in range(size)]


def load_data(app, consultations: int, referrals: int, fnrs: list[str], rng: random.Random) -> dict:
    """Bulk-load patients, consultations and open referrals with Core executemany, in batches."""
    from sqlalchemy import insert, text

    from portal.consultations.models import CATEGORIES, CHANNELS, STATES, Consultation
    from portal.extensions import db
    from portal.patients.identifiers import birth_date_from_fodselsnummer
    from portal.patients.models import Patient
    from portal.patients.services import fodselsnummer_index
    from portal.referrals.models import AWAITING, Referral
    from portal.security.crypto import blind_index, encrypt
    from portal.security.staff_users import create_or_update_user

    timings = {}
    t0 = time.perf_counter()
    with app.app_context():
        fresh_schema(app)  # on PostgreSQL the database's public schema is dropped and made again
        timings["migrate"] = time.perf_counter() - t0

        t1 = time.perf_counter()
        secretary = create_or_update_user(SECRETARY, PASSWORD, "secretary", "Bench Secretary")
        secretary_id = secretary.id
        create_or_update_user(DOCTOR, PASSWORD, "doctor", "Bench Doctor")
        # A small pool of sealed national ids (AES-GCM with the instance's key), reused across rows;
        # every row still gets its own blind index, which is UNIQUE.
        sealed_pool = [(encrypt(f, "patient.national_id"), birth_date_from_fodselsnummer(f)) for f in fnrs[:500]]
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        patients_t, consultations_t, referrals_t = (
            _plain_table(Patient.__table__), _plain_table(Consultation.__table__), _plain_table(Referral.__table__))

        def patient_row(i: int) -> dict:
            sealed, born = sealed_pool[i % len(sealed_pool)]
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            return {
                "id": i, "national_id": sealed, "national_id_index": fodselsnummer_index(f"bench-patient-{i}"),
                "national_id_kind": "fnr", "first_name": first, "last_name": last, "birth_date": born,
                "email": f"{first}.{last}.{i}@example.com".lower(), "phone": f"+479{rng.randrange(10**7):07d}",
                "phone_needs_check": False, "from_insurer_referral": True, "marketing_allowed": False,
                "created_at": now - timedelta(minutes=rng.randrange(365 * 24 * 60)),
            }

        batch = 5000
        total_patients = consultations + referrals
        with db.engine.begin() as conn:
            for start in range(1, total_patients + 1, batch):
                stop = min(start + batch, total_patients + 1)
                conn.execute(insert(patients_t), [patient_row(i) for i in range(start, stop)])
        timings["patients"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        channel_sets = [["PHONE"], ["PHONE", "VIDEO"], ["CHAT", "PHONE", "VIDEO"], ["VIDEO"]]
        with db.engine.begin() as conn:
            for start in range(1, consultations + 1, batch):
                rows = []
                for i in range(start, min(start + batch, consultations + 1)):
                    channels = channel_sets[i % len(channel_sets)]
                    created = now - timedelta(minutes=rng.randrange(365 * 24 * 60))
                    state = STATES[i % len(STATES)]
                    rows.append({
                        "id": i, "code": f"B{i:07d}", "patient_id": i, "referral_id": None,
                        "source": "referral" if i % 3 else "booking", "state": state,
                        "category": CATEGORIES[i % len(CATEGORIES)], "enabled_channels": channels,
                        "primary_channel": channels[0], "options": {}, "service_provider_id": None,
                        "created_by_id": secretary_id, "created_at": created,
                        "assigned_at": None, "starts_at": None, "ends_at": None,
                        "cancelled_at": created + timedelta(days=1) if state == "cancelled" else None,
                        "cancel_reason": "bench" if state == "cancelled" else None,
                    })
                conn.execute(insert(consultations_t), rows)
        assert all(c in CHANNELS for s in channel_sets for c in s)
        timings["consultations"] = time.perf_counter() - t2

        t3 = time.perf_counter()
        with db.engine.begin() as conn:
            for start in range(1, referrals + 1, batch):
                rows = []
                for i in range(start, min(start + batch, referrals + 1)):
                    patient_id = consultations + i
                    received = now - timedelta(seconds=rng.randrange(14 * 24 * 3600))
                    payload = {
                        "JournalGuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "PID": fnrs[i % len(fnrs)], "FormatId": FORMAT_ID,
                        "MessageTimestamp": received.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
                        "Firstname": rng.choice(FIRST_NAMES), "Lastname": rng.choice(LAST_NAMES),
                        "PhoneNumber": f"+479{rng.randrange(10**7):07d}",
                    }
                    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                    rows.append({
                        "id": i, "journal_guid": payload["JournalGuid"], "patient_id": patient_id,
                        "format_id": FORMAT_ID, "message_timestamp": received - timedelta(seconds=2),
                        "payload": encrypt(canonical, "referral.payload"),
                        "payload_fingerprint": blind_index("referral.payload", canonical),
                        "phone_needs_check": False, "status": AWAITING, "received_at": received,
                        "call_attempt_count": 0, "handled_at": None, "handled_by_id": None,
                        "decline_reason": None,
                    })
                conn.execute(insert(referrals_t), rows)
        timings["referrals"] = time.perf_counter() - t3

        postgresql = db.engine.dialect.name == "postgresql"
        if postgresql:  # the rows came with their ids: the sequences must continue after them
            with db.engine.begin() as conn:
                for name in ("patients", "consultations", "referrals"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                      f"(SELECT max(id) FROM {name}))"))
                conn.execute(text("ANALYZE"))
        db.session.remove()
        db.engine.dispose()
        if not postgresql:
            # Start from a checkpointed database, not one with the whole load still in the WAL file.
            raw = sqlite3.connect(Path(app.instance_path) / "portal.db", isolation_level=None)
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            raw.close()
    timings["total"] = time.perf_counter() - t0
    return timings


def signed_referral_requests(port: int, secret: str, count: int, fnrs: list[str], rng: random.Random) -> list[bytes]:
    """Raw HTTP requests, each a NEW referral (fresh JournalGuid) signed like the referral system signs."""
    from portal.referrals.intake import sign

    stamp = str(int(time.time()))
    message_ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    out = []
    for _ in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        payload = {
            "JournalGuid": str(uuid.uuid4()), "PID": rng.choice(fnrs), "FormatId": FORMAT_ID,
            "MessageTimestamp": message_ts, "Firstname": first, "Lastname": last,
            "PhoneNumber": f"+479{rng.randrange(10**7):07d}",
        }
        if rng.random() < 0.8:
            payload["Email"] = f"{first}.{last}@example.com".lower()
        body = json.dumps(payload).encode()
        head = (
            f"POST /api/referrals HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Referral-Timestamp: {stamp}\r\nX-Referral-Signature: {sign(secret, stamp, body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


# --------------------------------------------------------------------------- session


def sign_in(port: int, email: str = SECRETARY, check_path: str = "/queue") -> str:
    """A session cookie for `email`, checked by opening `check_path` with it."""
    import requests

    base = f"http://127.0.0.1:{port}"
    with requests.Session() as s:
        s.headers["User-Agent"] = USER_AGENT
        page = s.get(f"{base}/login", timeout=10)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text) or \
            re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if not match:
            raise RuntimeError("login page has no csrf_token field")
        response = s.post(f"{base}/login", data={"email": email, "password": PASSWORD,
                                                 "csrf_token": match.group(1)},
                          allow_redirects=False, timeout=10)
        if response.status_code != 302:
            raise RuntimeError(f"sign-in failed: {response.status_code} {response.text[:300]}")
        cookie = s.cookies.get("session")
        check = s.get(f"{base}{check_path}", allow_redirects=False, timeout=10)
        if check.status_code != 200:
            raise RuntimeError(f"{check_path} answered {check.status_code} for the signed-in {email}")
        return cookie


def queue_total(port: int, cookie: str) -> str:
    import requests

    page = requests.get(f"http://127.0.0.1:{port}/queue", cookies={"session": cookie},
                        headers={"User-Agent": USER_AGENT}, allow_redirects=False, timeout=10)
    match = re.search(r"([\d,]+) referrals? waiting", page.text)
    return match.group(1) if match else "?"


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}{unit}"


def _problems(r: dict) -> str:
    parts = []
    if r.get("other"):
        parts.append(f"non-success {r['other']} ({r['other_codes']})")
    if r.get("socket_errors"):
        parts.append(f"socket errors {r['socket_errors']}")
    if r.get("wrapped"):
        parts.append(f"wrk ran out of pre-signed requests {r['wrapped']} times (repeats were sent)")
    return "; ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5k consultations, 1k referrals, 3 s runs")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--threads", type=int,
                        help="threads per gthread worker (default: gunicorn.conf.py's, 2)")
    parser.add_argument("--seconds", type=float, help="length of each measured run (default 10, quick 3)")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder and leave nothing running")
    parser.add_argument("--database-url", help="a PostgreSQL database of yours (its public schema is REPLACED); "
                        "default: a new SQLite file")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternated hello-world / intake pairs at 32 clients (default 5; the median is reported)")
    parser.add_argument("--intake-only", action="store_true",
                        help="measure hello-world and the webhook only (skip the two queues): a short check of intake")
    args = parser.parse_args()
    consultations, referrals = (5_000, 1_000) if args.quick else (100_000, 10_000)
    seconds = args.seconds or (3 if args.quick else 10)
    warmup = 1 if args.quick else 2

    instance = tempfile.mkdtemp(prefix="care-portal-bench-")
    # A fresh SQLite file (unless --database-url) and embedded Redis in that folder, whatever the shell had set.
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ["INSTANCE_PATH"] = instance
    os.environ["RATELIMIT_ENABLED"] = "0"
    # The bench users sign in with the password only (two-factor has its own tests; it is not what is measured).
    os.environ["TWO_FACTOR_REQUIRED_ROLES"] = ""
    sys.path.insert(0, str(ROOT))

    from portal import create_app
    from portal.redis_embedded import stop_embedded_redis

    server = None
    try:
        print(f"Care Portal benchmark ({'quick' if args.quick else 'full'}): instance {instance}")
        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}; "
              f"database: {'PostgreSQL (--database-url)' if args.database_url else 'SQLite'}")
        print("load average before the run: %.2f %.2f %.2f" % os.getloadavg())
        print("note: RATELIMIT_ENABLED=0 for this run (the sign-in limiter would otherwise get in the way)")
        rng = random.Random(20261123)
        t = time.perf_counter()
        fnrs = _fnr_pool(rng, 3000)
        app = create_app()
        secret = app.config["REFERRAL_WEBHOOK_SECRET"]
        timings = load_data(app, consultations, referrals, fnrs, rng)
        print(f"loaded {consultations:,} consultations + {consultations + referrals:,} patients + "
              f"{referrals:,} open referrals + 1 secretary + 1 doctor in {time.perf_counter() - t:.1f} s "
              f"(migrate {timings['migrate']:.1f}, patients {timings['patients']:.1f}, "
              f"consultations {timings['consultations']:.1f}, referrals {timings['referrals']:.1f})")

        server = Gunicorn(dict(os.environ), workers=args.workers, threads=args.threads,
                          log_path=Path(instance) / "gunicorn.log").start()
        port = server.port
        print(f"gunicorn: {server_kind(args)} on 127.0.0.1:{port}, serving wsgi:app")
        ua = {"User-Agent": USER_AGENT}

        def wrk(path: str, connections: int, duration: float, headers: dict) -> dict:
            return run_wrk(f"{server.url}{path}", connections=connections, seconds=duration, headers=headers)
        results: dict[str, dict] = {}

        def measure(key: str, fn):
            """Run one measurement; note the CPU the server, the load generator and the rest used meanwhile."""
            r = with_cpu(server, fn)
            results[key] = r
            print(f"  {key}: {_fmt(r['rps'], '/s')}, p50 {_fmt(r['p50_ms'], ' ms', 2)}, "
                  f"p99 {_fmt(r['p99_ms'], ' ms', 2)} {_problems(r)}", flush=True)

        # 1. hello world
        print("measuring /healthz ...", flush=True)
        wrk("/healthz", 32, warmup, ua)
        measure("hello c4", lambda: wrk("/healthz", 4, seconds, ua))

        # 2. the queue page, on the loaded data (before the webhook adds more)
        waiting = "?"
        if not args.intake_only:
            print("measuring GET /queue ...", flush=True)
            cookie = sign_in(port)
            waiting = queue_total(port, cookie)
            queue_headers = {**ua, "Cookie": f"session={cookie}"}
            wrk("/queue", 4, warmup, queue_headers)
            measure("queue c4", lambda: wrk("/queue", 4, seconds, queue_headers))
            measure("queue c32", lambda: wrk("/queue", 32, seconds, queue_headers))
            print("measuring GET /consultations (the doctors' queue) ...", flush=True)
            doctor_headers = {**ua, "Cookie": f"session={sign_in(port, DOCTOR, '/consultations')}"}
            wrk("/consultations", 4, warmup, doctor_headers)
            measure("doctors c4", lambda: wrk("/consultations", 4, seconds, doctor_headers))

        # 3. the webhook: every request a new signed referral. At 32 clients hello-world and intake alternate,
        # round by round, and the round with the median ratio is reported: this machine's speed drifts by
        # tens of per cent over a minute, which a single pair of runs 10-20 s apart takes for a difference.
        print("measuring POST /api/referrals ...", flush=True)
        budget = int(2000 * seconds)

        def intake(clients: int, duration: float, requests: list[bytes]) -> dict:
            return run_wrk_pool(f"{server.url}/api/referrals", requests, connections=clients, seconds=duration,
                                success=201)
        warm = intake(4, warmup, signed_referral_requests(port, secret, 2000 * warmup, fnrs, rng))
        if warm["ok"] == 0:
            raise RuntimeError(f"the webhook accepted nothing in the warm-up: {warm['other_codes']}")
        rounds = []
        for n in range(1, args.rounds + 1):
            pool = signed_referral_requests(port, secret, budget, fnrs, rng)  # signed before the clock starts
            hello_round = with_cpu(server, lambda: wrk("/healthz", 32, seconds, ua))
            intake_round = with_cpu(server, lambda pool=pool: intake(32, seconds, pool))
            rounds.append((intake_round["rps"] / hello_round["rps"], hello_round, intake_round))
            print(f"  round {n}: hello c32 {hello_round['rps']:,.0f}/s ({hello_round['server_cpu_ms_per_req']:.2f} ms "
                  f"CPU/req), intake c32 {intake_round['rps']:,.0f}/s ({intake_round['server_cpu_ms_per_req']:.2f} "
                  f"ms CPU/req, p99 {intake_round['p99_ms']:.1f} ms): ratio {rounds[-1][0]:.3f} "
                  f"{_problems(hello_round)} {_problems(intake_round)}", flush=True)
        median_ratio, results["hello c32"], results["intake c32"] = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]
        ratios = [r[0] for r in rounds]
        pool = signed_referral_requests(port, secret, budget, fnrs, rng)
        measure("intake c4", lambda: intake(4, seconds, pool))

        print_report(results, median_ratio, ratios, args, consultations, referrals, waiting, seconds)
        print("load average after the run: %.2f %.2f %.2f" % os.getloadavg())
    finally:
        if server is not None:
            server.stop()
        stop_embedded_redis(instance)
        if args.keep:
            print(f"kept {instance}")
        else:
            shutil.rmtree(instance, ignore_errors=True)
    return 0


def server_kind(args) -> str:
    return f"{args.workers} workers x {args.threads or 2} threads (gthread, gunicorn.conf.py's worker)"


def print_report(results: dict, median_ratio: float, ratios: list[float], args, consultations: int, referrals: int,
                 waiting: str, seconds: float) -> None:
    """`ratios` are the intake/hello-world ratios of the alternated rounds at 32 clients, `median_ratio` the one of
    the round whose hello and intake are results["hello c32"] and results["intake c32"]."""
    hello, hello4 = results["hello c32"], results["hello c4"]
    queue4, queue32, doctors4 = (results.get(key) for key in ("queue c4", "queue c32", "doctors c4"))
    intake32, intake4 = results["intake c32"], results["intake c4"]

    def target(ok: bool) -> str:
        return "meets target" if ok else "MISSES TARGET"

    print()
    print(f"Results: {consultations:,} consultations, {referrals:,} open referrals loaded "
          f"({waiting} waiting when the queue was measured); gunicorn {server_kind(args)}; "
          f"{os.cpu_count()} CPUs; {seconds:g} s per run; RATELIMIT_ENABLED=0")
    header = (f"{'endpoint':<27} {'driver':<7} {'conc':>4} {'req/s':>8} {'p50':>9} {'p99':>9} {'max':>9} "
              f"{'srv CPU':>7} {'ms/req':>6} {'gen CPU':>7} {'other':>5}  target")
    print(header)
    print("-" * (len(header) + 24))
    rows = [
        ("GET /healthz (hello)", "wrk", 32, hello, ""),
        ("GET /healthz (hello)", "wrk", 4, hello4, ""),
        *([] if queue4 is None else [
            ("GET /queue (secretary)", "wrk", 32, queue32, ""),
            ("GET /queue (secretary)", "wrk", 4, queue4,
             f"p99 <= {QUEUE_TARGET_P99_MS:.0f} ms: {target(queue4['p99_ms'] <= QUEUE_TARGET_P99_MS)}"),
            ("GET /consultations (doctor)", "wrk", 4, doctors4,
             f"p99 <= {QUEUE_TARGET_P99_MS:.0f} ms: {target(doctors4['p99_ms'] <= QUEUE_TARGET_P99_MS)}"),
        ]),
        ("POST /api/referrals", "wrk", 32, intake32,
         f">= {INTAKE_TARGET_RATIO}x hello: {target(median_ratio >= INTAKE_TARGET_RATIO)}"),
        ("POST /api/referrals", "wrk", 4, intake4, ""),
    ]
    for name, driver, conc, r, note in rows:
        print(f"{name:<27} {driver:<7} {conc:>4} {_fmt(r['rps'], '', 0):>8} {_fmt(r['p50_ms'], ' ms', 2):>9} "
              f"{_fmt(r['p99_ms'], ' ms', 2):>9} {_fmt(r['max_ms'], ' ms', 1):>9} {_fmt(r['server_cpu'], '', 2):>7} "
              f"{_fmt(r['server_cpu_ms_per_req'], '', 2):>6} {_fmt(r['loadgen_cpu'], '', 2):>7} "
              f"{_fmt(r['other_cpu'], '', 2):>5}  {note}")
    print()
    print(f"intake req/s @32 {intake32['rps']:,.0f}"
          + ("" if queue4 is None else
             f"; queue p99 @4 {queue4['p99_ms']:.2f} ms, doctors' queue p99 @4 {doctors4['p99_ms']:.2f} ms "
             f"(target <= {QUEUE_TARGET_P99_MS:.0f} ms)"))
    print(f"intake/hello ratio @32: {median_ratio:.3f} (target >= {INTAKE_TARGET_RATIO}: "
          f"{target(median_ratio >= INTAKE_TARGET_RATIO)}), the median of {len(ratios)} alternated "
          f"rounds ({', '.join(f'{r:.3f}' for r in ratios)}; min {min(ratios):.3f}, max {max(ratios):.3f}); both "
          f"driven by wrk; the table's hello and intake @32 rows are that round's")
    print("req/s counts only successes (200; 201 for the webhook) finished inside the window; p50/p99/max are of "
          "those.\nsrv CPU / gen CPU / other = CPU cores kept busy on average by gunicorn, by the load generator "
          "(wrk),\nand by everything else on this machine; ms/req = gunicorn CPU time per "
          "successful request.")
    for name, r in results.items():
        if _problems(r):
            print(f"warning: {name}: {_problems(r)}")
    print("Figures only: this benchmark never fails on timing.")


if __name__ == "__main__":
    sys.exit(main())
