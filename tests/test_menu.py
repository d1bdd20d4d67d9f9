"""The main menu in the header: each role's pages in order, the open one marked, in the reader's language
(the addresses and labels are built once per role and language, so a second language must not get the first's)."""

import re

from tests.conftest import csrf_token_from

NB = {"Accept-Language": "nb-NO,nb;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.8"}


def menu(page: str) -> list[tuple[str, str, bool]]:
    """(address, label, marked as this page) of each link in the main menu."""
    nav = re.search(r'<nav aria-label="[^"]+">\s*<ul>(.*?)</ul>', page, re.S).group(1)
    return [(href, label, current == ' aria-current="page"')
            for href, current, label in re.findall(r'<a href="([^"]+)"( aria-current="page")?\s*>([^<]+)</a>', nav)]


def test_a_secretary_has_the_screening_pages_with_the_open_one_marked(staff_client):
    secretary = staff_client("secretary")
    links = menu(secretary.get("/queue", headers=EN).get_data(as_text=True))
    assert [label for _, label, _ in links] == [
        "Referral queue", "Schedules", "Book elsewhere", "Triage", "Consultations", "Messages", "Travel claims",
        "Dashboards", "Your account"]
    assert [(href, label) for href, label, here in links if here] == [("/queue", "Referral queue")]
    marked = [label for _, label, here in menu(secretary.get("/consultations", headers=EN).get_data(as_text=True))
              if here]
    assert marked == ["Consultations"]


def test_a_prefix_marks_every_page_under_it(staff_client):
    admin = staff_client("admin")
    links = menu(admin.get("/account/sessions", headers=EN).get_data(as_text=True))
    assert [label for _, label, here in links if here] == ["Your account"]
    assert "Staff" in [label for _, label, _ in links] and "Insurer reports" in [label for _, label, _ in links]


def test_a_doctor_sees_no_screening_pages(staff_client):
    doctor = staff_client("doctor")
    labels = [label for _, label, _ in menu(doctor.get("/consultations", headers=EN).get_data(as_text=True))]
    assert labels == ["Consultations", "Your account"]


def test_partner_roles_get_their_own_pages(partner_client):
    viewer = partner_client("northside", "viewer")
    labels = [label for _, label, _ in menu(viewer.get("/partner/care-requests").get_data(as_text=True))]
    assert labels == ["Care requests", "Profile"]
    admin = partner_client("harbour", "partner_admin")
    links = menu(admin.get("/partner/users").get_data(as_text=True))
    assert [label for _, label, _ in links] == ["Care requests", "New care request", "Users", "Profile"]
    assert [label for _, label, here in links if here] == ["Users"]


def test_the_menu_speaks_each_readers_language(staff_client):
    english = staff_client("secretary")
    assert menu(english.get("/queue", headers=EN).get_data(as_text=True))[0][1] == "Referral queue"
    norwegian = staff_client("secretary", "other.secretary@test.example")
    page = norwegian.get("/language", headers=EN).get_data(as_text=True)
    assert norwegian.post("/language", data={"lang": "nb", "csrf_token": csrf_token_from(page)}).status_code == 302
    assert menu(norwegian.get("/queue", headers=EN).get_data(as_text=True))[0][1] == "Henvisningskø"
    assert menu(english.get("/queue", headers=EN).get_data(as_text=True))[0][1] == "Referral queue"
    assert menu(english.get("/queue", headers=NB).get_data(as_text=True))[0][1] == "Henvisningskø"
