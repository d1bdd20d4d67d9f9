"""A phone's first visit: static files under content-hashed names, compressed and cached for a year;
pages compressed when the person's own browser asked for them, never for another site's request."""

import gzip
import re

import brotli
import pytest

from tests.conftest import without_csrf_tokens

OWN = {"Sec-Fetch-Site": "same-origin"}


def linked_assets(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', page)


def test_pages_link_static_files_by_content_hashed_names(client):
    page = client.get("/login").get_data(as_text=True)
    assets = linked_assets(page)
    assert any(a.endswith(".css") for a in assets) and any("htmx" in a for a in assets)
    for asset in assets:
        assert re.search(r"\.[0-9a-f]{12}\.", asset), asset


def test_a_hashed_file_is_cached_for_a_year_and_sent_compressed(client):
    css = next(a for a in linked_assets(client.get("/login").get_data(as_text=True)) if a.endswith(".css"))
    plain = client.get(css)
    assert plain.status_code == 200
    assert "max-age=31536000" in plain.headers["Cache-Control"] and "immutable" in plain.headers["Cache-Control"]
    assert "Content-Encoding" not in plain.headers
    packed = client.get(css, headers={"Accept-Encoding": "br, gzip"})
    assert packed.headers["Content-Encoding"] == "br"
    assert brotli.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 3
    zipped = client.get(css, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.data) == plain.data


def test_a_file_under_its_own_name_is_served_but_not_for_long(client):
    answer = client.get("/static/css/portal.css")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "max-age=60, public"


def test_an_unknown_static_file_is_not_found(client):
    assert client.get("/static/css/portal.0123456789ab.css").status_code == 404


@pytest.mark.parametrize("encoding, unpack", [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_a_page_is_compressed_for_the_persons_own_request(client, encoding, unpack):
    plain = client.get("/login")
    packed = client.get("/login", headers={**OWN, "Accept-Encoding": encoding})
    assert packed.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in packed.headers["Vary"] and "Sec-Fetch-Site" in packed.headers["Vary"]
    # The CSRF token carries the second it was signed in; the rest of the page is the same.
    assert without_csrf_tokens(unpack(packed.data).decode()) == without_csrf_tokens(plain.get_data(as_text=True))
    assert len(packed.data) < len(plain.data) * 0.6


@pytest.mark.parametrize("site", ["cross-site", "same-site", None])
def test_a_page_is_never_compressed_for_another_sites_request(client, site):
    """Compressing a page with a secret in it for a request another site made lets that site guess the
    secret from the answers' sizes (BREACH); browsers that do not say where a request came from are
    treated the same way."""
    headers = {"Accept-Encoding": "br, gzip"}
    if site:
        headers["Sec-Fetch-Site"] = site
    answer = client.get("/login", headers=headers)
    assert answer.status_code == 200
    assert "Content-Encoding" not in answer.headers
    assert b"<form" in answer.data


def test_json_answers_are_left_alone(client):
    answer = client.get("/healthz", headers={**OWN, "Accept-Encoding": "br, gzip"})
    assert answer.status_code == 200 and "Content-Encoding" not in answer.headers
