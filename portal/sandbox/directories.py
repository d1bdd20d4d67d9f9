"""Stand-ins for the NHS directories the consumer side of booking uses, in JSON rather than SOAP/FHIR:

- service directory (DoS): CheckCapacitySummary (services near a postcode) and ServiceDetailsByID (→ ASID);
- endpoint directory (SDS): ASID → party key → FHIR endpoint and token URL;
- demographics (PDS): an NHS number → the registered person, or 404.

The listed services are the healthcare services of the loopback provider, which is this very
portal (`PORTAL_URL`), read from its database; so the whole chain runs on loopback.
Failure modes per system: `POST /failure-mode` with form fields system=dos|sds|pds and
mode=ok|500|slow (the sandbox page has the form); tests set `app.config["FAILURE_MODES"]`.
"""

import time

from flask import Blueprint, abort, current_app, request
from sqlalchemy import create_engine, text
from stdnum.gb import nhs

bp = Blueprint("directories", __name__)

# Synthetic people with valid NHS numbers (none belongs to a real person).
PDS_PEOPLE = {
    "9434765919": {"family": "Able", "given": "Amy", "birthDate": "1980-05-01"},
    "4010232137": {"family": "Baker", "given": "Ben", "birthDate": "1975-11-23"},
    "9449306680": {"family": "Carter", "given": "Cleo", "birthDate": "1992-02-29"},
}


def _engine():
    engine = current_app.extensions.get("sandbox_engine")
    if engine is None:
        engine = create_engine(current_app.config["SQLALCHEMY_DATABASE_URI"])
        current_app.extensions["sandbox_engine"] = engine
    return engine


SYSTEMS = ("dos", "sds", "pds")
MODES = ("ok", "500", "slow")


@bp.before_request
def _failure_modes():
    system = request.path.strip("/").split("/")[0]
    mode = current_app.config.setdefault("FAILURE_MODES", {}).get(system, "ok")
    if mode == "500":
        abort(500)
    if mode == "slow":
        time.sleep(float(current_app.config.get("SANDBOX_SLOW_SECONDS", 10)))


@bp.post("/failure-mode")
def set_failure_mode():
    system, mode = request.form.get("system"), request.form.get("mode")
    if system not in SYSTEMS or mode not in MODES:
        return {"error": f"system must be one of {SYSTEMS}, mode one of {MODES}"}, 400
    current_app.config.setdefault("FAILURE_MODES", {})[system] = mode
    return {"system": system, "mode": mode}


def _asid(service_id: int) -> str:
    return f"2000{service_id:08d}"


@bp.post("/dos/CheckCapacitySummary")
def check_capacity_summary():
    postcode = ((request.get_json(silent=True) or {}).get("postcode") or "").strip()
    if not postcode:
        return {"error": "postcode is required"}, 400
    with _engine().connect() as conn:
        rows = conn.execute(text("SELECT id, name, organisation_code FROM healthcare_services WHERE active "
                                 "ORDER BY id")).all()
    return {"services": [{"id": f"dos-{r.id}", "name": r.name, "odsCode": r.organisation_code} for r in rows]}


@bp.get("/dos/ServiceDetailsByID/<service_id>")
def service_details(service_id: str):
    number = service_id.removeprefix("dos-")
    if not number.isdigit():
        return {"error": "unknown service"}, 404
    with _engine().connect() as conn:
        row = conn.execute(text("SELECT id, name, organisation_code FROM healthcare_services WHERE id = :id"),
                           {"id": int(number)}).first()
    if row is None:
        return {"error": "unknown service"}, 404
    return {"id": service_id, "name": row.name, "odsCode": row.organisation_code, "asid": _asid(row.id),
            "healthcareServiceId": str(row.id)}


@bp.get("/sds/accredited-system")
def accredited_system():
    asid = request.args.get("asid", "")
    if not (asid.startswith("2000") and asid.isdigit()):
        return {"error": "unknown ASID"}, 404
    return {"asid": asid, "partyKey": f"PK-{asid[-8:]}"}


@bp.get("/sds/endpoint")
def endpoint():
    party_key = request.args.get("partyKey", "")
    if not party_key.startswith("PK-"):
        return {"error": "unknown party key"}, 404
    portal = current_app.config["PORTAL_URL"].rstrip("/")
    return {"partyKey": party_key, "endpoint": f"{portal}/fhir/stu3", "tokenUrl": f"{portal}/oauth/token"}


@bp.get("/pds/Patient/<nhs_number>")
def pds_patient(nhs_number: str):
    if not nhs.is_valid(nhs_number):
        return {"error": "not a valid NHS number"}, 400
    person = PDS_PEOPLE.get(nhs_number)
    if person is None:
        return {"error": "no person with this NHS number"}, 404
    return {"nhsNumber": nhs_number, **person}
