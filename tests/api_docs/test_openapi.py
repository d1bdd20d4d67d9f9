"""The published contract: /api/openapi.json and the integrators' page /api/docs."""

import json
import re
import subprocess

import schemathesis

from portal.api_docs.openapi import EXAMPLE_REFERRAL, signing_example
from portal.referrals import intake


def test_the_document_is_openapi_3_1_with_every_json_api(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.json
    assert document["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(document)  # refuses a malformed document
    operations = {f"{op.ok().method.upper()} {op.ok().path}" for op in schema.get_all_operations()}
    assert {"POST /api/referrals", "GET /api/consultations/{id}", "POST /oauth/token"} <= operations


def test_every_fhir_interaction_of_the_capability_statement_is_in_the_document(client):
    document = client.get("/api/openapi.json").json
    capabilities = client.get("/fhir/stu3/metadata").json
    wanted = {"search-type": ("get", "/fhir/stu3/{type}"), "read": ("get", "/fhir/stu3/{type}/{{id}}"),
              "create": ("post", "/fhir/stu3/{type}"), "update": ("put", "/fhir/stu3/{type}/{{id}}"),
              "vread": ("get", "/fhir/stu3/{type}/{{id}}/_history/{{vid}}")}
    listed = 0
    for resource in capabilities["rest"][0]["resource"]:
        for interaction in resource["interaction"]:
            method, path = wanted[interaction["code"]]
            path = path.format(type=resource["type"])
            assert method in document["paths"].get(path, {}), (resource["type"], interaction["code"])
            listed += 1
    # Slot search; Schedule, Practitioner, PractitionerRole, Location, HealthcareService, Organization read;
    # Appointment create, read, vread, update and search.
    assert listed == 12
    assert "get" in document["paths"]["/fhir/stu3/metadata"]


def test_the_worked_signing_example_is_accepted_by_the_webhook_check():
    example = signing_example()
    assert example["body"] == json.dumps(EXAMPLE_REFERRAL, separators=(",", ":"))
    assert intake.signature_problem(example["secret"], example["timestamp"], example["signature"],
                                    example["body"].encode(), now=float(example["timestamp"]), max_skew=300) is None


def test_the_worked_example_is_what_openssl_computes():
    example = signing_example()
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", example["secret"]],
                            input=example["signed_text"].encode(), capture_output=True, check=True).stdout.decode()
    assert digest.split()[-1] == example["signature"].removeprefix("sha256=")


def test_the_limits_in_the_document_are_the_code_s(client):
    from portal import input_rules

    referral = client.get("/api/openapi.json").json["components"]["schemas"]["Referral"]
    assert f"at most {input_rules.MAX_DEPTH} levels deep" in referral["description"]
    assert referral["properties"]["Firstname"]["maxLength"] == intake.NAME_MAX
    assert referral["required"] == list(intake.REQUIRED)


def test_the_integrators_page_needs_no_sign_in_and_shows_every_operation(client):
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    example = signing_example()
    assert example["signature"] in html and example["timestamp"] in html
    for path in client.get("/api/openapi.json").json["paths"]:
        assert path.replace("{", "").replace("}", "") in html.replace("{", "").replace("}", ""), path
    assert "<script>" not in html and not re.search(r"\sstyle=", html)


def test_in_bokmal_the_pages_operations_are_api_operations_not_the_ops_teams_drift(client):
    html = client.get("/api/docs", headers={"Accept-Language": "nb"}).get_data(as_text=True)
    assert '<html lang="nb' in html
    assert "<h2>Operasjoner</h2>" in html and 'aria-label="Operasjoner"' in html
    assert ">Drift<" not in html
