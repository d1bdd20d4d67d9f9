"""Every rule of the catalogue has a test, and every test names rules of the catalogue."""

from tests.fhir.conformance.conftest import requirement_ids
from tests.fhir.conformance.requirements import BY_ID, REQUIREMENTS


def test_every_requirement_has_a_conformance_test_and_every_test_a_known_requirement(request):
    items = [item for item in request.session.items if "tests/fhir/conformance" in str(item.path)
             or "tests/book_elsewhere" in str(item.path)]
    named = {rid for item in items for rid in requirement_ids(item)}
    assert not named - set(BY_ID), f"tests name rules that are not in the catalogue: {sorted(named - set(BY_ID))}"
    if len({item.path for item in items}) < 5:
        return  # a run of a few files (e.g. -k or one module) cannot see every test
    missing = [r.id for r in REQUIREMENTS if r.id not in named]
    assert not missing, f"rules without a test: {missing}"
