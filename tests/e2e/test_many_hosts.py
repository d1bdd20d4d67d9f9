"""The portal on several hosts: two web hosts (A and B) and two workers on one PostgreSQL and one Redis
server, in the production profile, with every secret from the environment (tests/e2e/many_hosts.py).

One story across them: a referral arrives at A; the secretary screens it on B; the doctor picks and
chats on A while the patient, whose link came by SMS (GOV.UK Notify's API, played by the sandbox), chats
on B; a patient checks in on A and the claims worker on the second host files the travel claim; a
lock-out reached on A holds on B; sign-out on A ends the session on B, for a secretary and for a partner
user (signed in through the sandbox's OpenID Connect provider); `rotate-keys` run on A leaves every record
readable on B, which by then holds only the new key.

Runs where PostgreSQL and Debian's redis-server are (CI's PostgreSQL pass); elsewhere it is skipped,
except under CI, where a missing piece fails it.
"""

import os
import random
import re
import time

import pytest
import requests
from rq import Worker
from rq.job import Job
from stdnum.no import fodselsnummer

from portal.sandbox.referral_system import random_fodselsnummer, signed_request
from tests.checkin.test_checkin_flow import ALL_YES, answer_all, press_check_in, sign_in as checkin_sign_in
from tests.conftest import SEED_REFERRAL, csrf_token_from
from tests.e2e.many_hosts import Browser, Cluster, link_path, on_postgresql, wait_until, what_is_missing
from tests.partners.fixtures import choose_demo_user

HX = {"HX-Request": "true"}
PANEL = {**HX, "HX-Target": "consultation-panel"}
DEMO_PASSWORD = "demo-password-1"
PATIENT_PHONE = "+4790021021"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not on_postgresql():
        pytest.skip("needs PostgreSQL (DATABASE_URL): CI runs it in its PostgreSQL pass")
    missing = what_is_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the multi-instance test cannot run in CI: {missing}")
        pytest.skip(missing)
    started = time.monotonic()
    cluster = Cluster(tmp_path_factory.mktemp("many-hosts"))
    try:
        cluster.create_database()
        cluster.start_redis()
        cluster.start_sandbox()  # starts while the migrations run
        cluster.flask("A", "db", "upgrade")
        cluster.wait_for_sandbox()
        demo = cluster.flask("A", "demo-data").stdout
        cluster.checkin_link = link_path(demo, "/checkin")
        cluster.mark("Redis, sandbox, migrations, demo data")
        cluster.start_web("A", "B")
        cluster.mark("two web hosts")
        yield cluster
    finally:
        cluster.stop_all()
        cluster.mark("stop")
        leftovers = [pid for pid in os.listdir("/proc") if pid.isdigit() and _runs_in(pid, cluster.workdir)]
        print(f"\nmany hosts: {time.monotonic() - started:.1f} s wall time ({cluster.timings()}); "
              f"logs in {cluster.workdir}")
        cluster.drop_database()
    assert leftovers == [], f"processes outlived the run: {leftovers}"


def _runs_in(pid: str, folder) -> bool:
    """A process whose command line names the run's folder (an embedded Redis would)."""
    try:
        return str(folder) in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
    except OSError:
        return False


def staff(host_url: str, email: str) -> tuple:
    """A staff member's browser, signed in at the given host."""
    browser = Browser()
    view = browser.at(host_url)
    page = view.get("/login").get_data(as_text=True)
    signed_in = view.post("/login", data={"email": email, "password": DEMO_PASSWORD,
                                          "csrf_token": csrf_token_from(page)})
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)[:500]
    if signed_in.headers["Location"] == "/login/code":  # the demo doctor has two-factor, with the demo secret
        signed_in = _code_step(view)
    assert "session" in browser.secure_cookies  # production: the session cookie is Secure
    view.csrf = csrf_token_from(view.get("/", follow_redirects=True).get_data(as_text=True))
    return browser, view


def _same_cookies(browser: Browser) -> Browser:
    """Another browser holding a copy of this one's cookies (a captured session)."""
    copy = Browser()
    copy.session.cookies.update(requests.utils.dict_from_cookiejar(browser.session.cookies))
    return copy


def _code_step(view):
    """The second step with the demo accounts' published TOTP secret. A code is taken once per account and
    time step, so a second sign-in of one account within 30 s waits for the next step."""
    import pyotp

    from portal.demo import DEMO_TOTP_SECRET

    totp = pyotp.TOTP(DEMO_TOTP_SECRET)
    for attempt in range(2):
        page = view.get("/login/code").get_data(as_text=True)
        answer = view.post("/login/code", data={"code": totp.now(), "csrf_token": csrf_token_from(page)})
        if answer.status_code == 302 or attempt:
            return answer
        time.sleep(30 - time.time() % 30 + 0.5)
    return answer


def test_the_portal_runs_across_two_hosts_and_two_workers(cluster):
    try:
        _story(cluster)
    except BaseException:
        print(cluster.tail())
        raise


def _story(cluster):
    A, B = cluster.hosts["A"], cluster.hosts["B"]

    # Without a worker, both hosts say so; with one on each host, both are ready.
    not_ready = Browser().at(B).get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json["checks"]["workers"] == "no worker is running"
    cluster.start_worker("A", cluster.queues["A"])
    cluster.start_worker("B", cluster.queues["B"])
    for host in (A, B):
        ready = wait_until(lambda host=host: Browser().at(host).get("/readyz").status_code == 200, 60, "readiness")
        assert ready

    cluster.mark("two workers ready")

    # A referral arrives at A.
    pid = random_fodselsnummer(random.Random(21))
    birth = fodselsnummer.get_birth_date(pid).isoformat()
    referral = dict(SEED_REFERRAL, JournalGuid="6f9619ff-8b86-4d01-b42d-00c04fc96421", PID=pid, Firstname="Kari",
                    Lastname="Hostesen", PhoneNumber=PATIENT_PHONE, Email="kari@example.com")
    body, headers = signed_request(cluster.secrets["REFERRAL_WEBHOOK_SECRET"], referral)
    arrived = requests.post(f"{A}/api/referrals", data=body, headers=headers, timeout=30)
    assert arrived.status_code == 201, arrived.text
    referral_id = arrived.json()["referral_id"]

    # The secretary works on B: sees it in the queue and turns it into a consultation.
    _, secretary = staff(B, "secretary@example.org")
    assert "Hostesen" in secretary.get("/queue").get_data(as_text=True)
    converted = secretary.post(f"/referrals/{referral_id}/consultation", headers=HX, data={
        "csrf_token": secretary.csrf, "enabled_channels": ["CHAT", "VIDEO"], "primary_channel": "CHAT",
        "category": "insurance"})
    assert converted.status_code == 200 and "created" in converted.get_data(as_text=True)
    [(consultation_id,)] = cluster.sql("SELECT id FROM consultations WHERE referral_id = :r", r=referral_id)

    # The doctor picks and starts it on A; a worker texts the patient the link through Notify.
    _, doctor = staff(A, "doctor@example.org")
    assert doctor.post(f"/consultations/{consultation_id}/pick", data={"csrf_token": doctor.csrf},
                       headers=PANEL).status_code == 200
    started = doctor.post(f"/consultations/{consultation_id}/start", data={"csrf_token": doctor.csrf},
                          headers=PANEL)
    assert started.status_code == 200 and "patient has been sent a link" in started.get_data(as_text=True)
    # (one link when picked, for the waiting room, and one when started; in bokmål, the language of a patient
    # who came by a Norwegian referral)
    links = wait_until(lambda: cluster.sms_to(PATIENT_PHONE, "Åpne denne lenken for å bli med"), 60,
                       "the link by SMS")
    link_sms = links[-1]
    assert {m["via"] for m in cluster.outbox()["sms"] if m["to"] == PATIENT_PHONE} == {"notify"}

    # The patient opens the link on B, proves who they are and chats; the doctor reads and answers on A.
    patient = Browser().at(B)
    path = link_path(link_sms, "/c")
    identity = patient.post(path, data={"csrf_token": csrf_token_from(patient.get(path).get_data(as_text=True)),
                                        "last_name": "Hostesen", "birth_date": birth})
    assert identity.status_code == 302
    room = patient.get("/c/room").get_data(as_text=True)
    patient_token = re.search(r'name="chat_token" value="([^"]+)"', room).group(1)
    sent = patient.post("/c/room/chat", headers=HX, data={"csrf_token": csrf_token_from(room),
                                                          "chat_token": patient_token,
                                                          "message": "My throat hurts since Monday."})
    assert sent.status_code == 200
    doctor_page = doctor.get(f"/consultations/{consultation_id}").get_data(as_text=True)
    assert "My throat hurts since Monday." in doctor_page
    doctor_token = re.search(r'name="chat_token" value="([^"]+)"', doctor_page).group(1)
    assert doctor.post(f"/consultations/{consultation_id}/chat", headers=HX, data={
        "csrf_token": doctor.csrf, "chat_token": doctor_token, "message": "Any fever?"}).status_code == 200
    since = re.search(r"/c/room/chat\?since=(-?\d+)", sent.get_data(as_text=True)).group(1)
    assert "Any fever?" in patient.get(f"/c/room/chat?since={since}", headers=HX).get_data(as_text=True)

    cluster.mark("referral, screening, pick, SMS link, chat")

    # The doctor finishes on A and files the sealed report, with the patient's national id.
    assert doctor.post(f"/consultations/{consultation_id}/finish", data={"csrf_token": doctor.csrf},
                       headers=PANEL).status_code == 200
    filed = doctor.post(f"/consultations/{consultation_id}/report", headers=PANEL, data={
        "csrf_token": doctor.csrf, "icpc2_code": "R74 Upper respiratory infection acute", "outcome": "helped",
        "patient_national_id": pid, "job_description": "Ferry pilot", "policy_number": "POL-21",
        "notes": "Rest and fluids; back if fever."})
    assert filed.status_code == 200, filed.get_data(as_text=True)[:500]

    # A patient checks in on A; the claims worker on host B files the travel claim.
    visitor = Browser().at(A)
    assert checkin_sign_in(visitor, cluster.checkin_link.rsplit("/", 1)[1]).status_code == 302
    appointments = visitor.get("/checkin/appointments").get_data(as_text=True)
    appointment_id = int(re.search(r"/checkin/appointments/(\d+)", appointments).group(1))
    answer_all(visitor, appointment_id, ALL_YES)
    assert press_check_in(visitor, appointment_id).status_code == 302
    claim = wait_until(lambda: cluster.sql("SELECT id, claim_number FROM travel_claims WHERE status = 'filed'"),
                       90, "the travel claim to be filed")
    [(claim_id, claim_number)] = claim
    import redis

    connection = redis.Redis.from_url(cluster.redis_url)
    filed_by = Job.fetch(f"travel-claim-{claim_id}-1", connection=connection).worker_name
    [claims_worker] = [w for w in Worker.all(connection=connection) if "claims" in w.queue_names()]
    assert filed_by == claims_worker.name
    wait_until(lambda: [m for m in cluster.outbox()["sms"] if claim_number in m["text"]], 60, "the claim's SMS")

    cluster.mark("report, check-in, claim filed by worker B")

    # A lock-out reached on A holds on B.
    intruder = Browser()
    for _ in range(5):
        page = intruder.at(A).get("/login").get_data(as_text=True)
        failed = intruder.at(A).post("/login", data={"email": "reporting@example.org", "password": "wrong-guess-1",
                                                     "csrf_token": csrf_token_from(page)})
        assert failed.status_code == 200
    owner = Browser().at(B)
    page = owner.get("/login").get_data(as_text=True)
    refused = owner.post("/login", data={"email": "reporting@example.org", "password": DEMO_PASSWORD,
                                         "csrf_token": csrf_token_from(page)})
    assert refused.status_code == 429
    assert owner.get("/").status_code == 302  # not signed in

    # Sign-out on A ends the session on B: the same cookies, in a browser that talks to B, get the sign-in page.
    browser, secretary_a = staff(A, "secretary@example.org")
    on_b = _same_cookies(browser).at(B)
    assert on_b.get("/queue").status_code == 200
    assert secretary_a.post("/logout", data={"csrf_token": secretary_a.csrf}).status_code == 302
    replayed = on_b.get("/queue")
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/login")

    partner = Browser()
    started = partner.at(A).get("/p/northside/login")
    assert started.status_code == 302, started.get_data(as_text=True)[:500]
    assert partner.at(A).get(choose_demo_user(started.headers["Location"], "ns-sam")).status_code == 302
    assert "session" in partner.secure_cookies
    on_b = _same_cookies(partner).at(B)
    assert on_b.get("/partner/care-requests").status_code == 200
    profile = partner.at(A).get("/partner/profile").get_data(as_text=True)
    assert partner.at(A).post("/partner/logout", data={"csrf_token": csrf_token_from(profile)}).status_code == 302
    replayed = on_b.get("/partner/care-requests")
    assert replayed.status_code == 302 and replayed.headers["Location"] == "/p/northside/login?signed_out=1"

    cluster.mark("lock-out, sign-out on A ends the session on B")

    # rotate-keys on A: every process gets the new key first, the re-seal runs, then B holds only the new key.
    told = cluster.flask("A", "rotate-keys").stdout
    both = re.search(r"DATA_KEYS=(\S+)", told).group(1)
    assert both.startswith("k2:") and both.endswith(cluster.secrets["DATA_KEYS"])
    cluster.secrets["DATA_KEYS"] = both
    cluster.restart("web-A", "web-B", "worker-A", "worker-B")
    done = cluster.flask("A", "rotate-keys", "--resume").stdout
    assert "done: every encrypted value is sealed with k2" in done
    only_new = both.split(",")[0]
    cluster.secrets["DATA_KEYS"] = only_new
    cluster.restart("web-B")
    assert cluster.sql("SELECT count(*) FROM chat_messages WHERE body NOT LIKE 'k2:%'") == [(0,)]

    _, secretary_b = staff(B, "secretary@example.org")
    _, doctor_b = staff(B, "doctor@example.org")
    report = doctor_b.get(f"/consultations/{consultation_id}").get_data(as_text=True)
    for sealed in (pid, "Rest and fluids; back if fever.", "Ferry pilot", "My throat hurts since Monday.",
                   "Any fever?"):
        assert sealed in report
    panel = secretary_b.get(f"/referrals/{referral_id}").get_data(as_text=True)
    assert "Hostesen" in panel and "kari@example.com" in panel
    claims_page = secretary_b.get("/travel-claims").get_data(as_text=True)
    assert claim_number in claims_page
    cluster.flask("B", "audit-verify", DATA_KEYS=only_new)
    cluster.mark("rotate-keys, restarts, reads on B")
