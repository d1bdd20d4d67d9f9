"""Every form on every swept page, sent back with hostile values by the role that was shown it: never a 500.

The sweep's world (tests/browser/test_sweep.py: the demo data plus one of everything, each role signed in
as a person does) in Debian's Chromium. On each page a role may open, every form that posts (method="post"
or hx-post) is read from the page as rendered: its action, its hidden fields (CSRF token, ids) kept as they
are, every other field filled with one hostile value, and sent through the browser's own cookies, once per
value. Answers may be anything a person can act on (a redirect, 4xx with the form's errors, 200 with them,
or the page after a change) but never a server error (a 500; 502-504 are the portal's own pages for a
failed external system or a busy database). Sign-out is left out (it would end the role's visit).

Runs once per CI run, on the SQLite pass, like the sweep.
"""

from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.sweep_pages import PAGES
from tests.browser.test_sweep import SIGN_IN, _paths_for, seed_everything

pytestmark = pytest.mark.browser

HOSTILE = [
    "\u3000\x1f ",                       # blank to str.strip(), a control character among them
    "Line\u202eresnaD\x00",             # a text-direction control and a NUL (PostgreSQL cannot store one)
    "x" * 5000,                          # longer than any field allows
    "-99999999999999999999999999",       # a number beyond any column
    "2030-02-30T25:61:00+99:99",         # a moment that is none
]
# The portal's own answers when another system failed or the database is busy, each a page saying so: this
# world serves no NHS directories, so a value that passes as an NHS number ("2147483648") meets "the
# demographics service could not be reached" (502), as it should.
GATEWAY = (502, 503, 504)
LAST = ("partner_admin", "reporting", "doctor", "secretary", "admin")
FORMS_PER_PAGE = 8  # list pages repeat one form per row: the first few distinct ones stand for the rest
SKIPPED_ACTIONS = ("/logout", "/partner/logout")

_READ_FORMS = """() => {
  const token = JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'] || null;
  const out = [], seen = new Set();
  for (const el of document.querySelectorAll('form[method=post i], [hx-post]')) {
    const action = el.getAttribute('hx-post') || el.getAttribute('action') || location.pathname + location.search;
    const form = el.tagName === 'FORM' ? el : el.closest('form');
    const fields = form ? [...form.elements].filter(e => e.name && !e.disabled)
        .map(e => ({name: e.name, type: (e.type || '').toLowerCase(), value: e.value})) : [];
    if (el.tagName !== 'FORM' && el.name) fields.push({name: el.name, type: 'submit', value: el.value});
    const key = action.replace(/[0-9]+/g, 'N') + '|' + fields.map(f => f.name).join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({action, fields, htmx: el.hasAttribute('hx-post'), token});
  }
  return out;
}"""


def _hostile_form(fields: list[dict], value: str) -> dict:
    kept = ("hidden", "submit")
    return {f["name"]: (f["value"] if f["type"] in kept else value) for f in fields}


def test_every_form_on_every_page_answers_hostile_values_without_a_server_error(app, live_server, sandbox, capsys):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("runs once per CI run, on the SQLite pass, as the sweep does")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    seed = seed_everything(app)
    # What a role's posts change (an admin deactivating a partner, a desk closing a referral) must not keep a
    # later role from signing in: those who change most for others go last.
    roles = sorted({role for page in PAGES.values() for role in page.roles}, key=lambda r: (LAST.index(r) if r in LAST
                                                                                              else -1, r))
    errors, sent, forms_seen, statuses = [], 0, set(), {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for role in roles:
                context = browser.new_context(base_url=live_server)
                context.set_default_timeout(15000)
                page = context.new_page()
                SIGN_IN[role](page, role, seed, app, sandbox)
                for endpoint, entry in _paths_for(role, seed):
                    path = entry.path.format_map(seed)
                    response = page.goto(path)
                    if response is None or response.status != entry.status:
                        continue  # an earlier post changed what this role may see here: nothing to read
                    for form in page.evaluate(_READ_FORMS)[:FORMS_PER_PAGE]:
                        if form["action"].split("?")[0] in SKIPPED_ACTIONS:
                            continue
                        forms_seen.add((endpoint, form["action"]))
                        headers = {"HX-Request": "true"} if form["htmx"] else {}
                        if form["token"]:
                            headers["X-CSRFToken"] = form["token"]
                        for value in HOSTILE:
                            answer = context.request.post(form["action"], form=_hostile_form(form["fields"], value),
                                                          headers=headers, max_redirects=0)
                            sent += 1
                            statuses[answer.status] = statuses.get(answer.status, 0) + 1
                            if answer.status >= 500 and answer.status not in GATEWAY:
                                errors.append(f"{role} on {endpoint}: POST {form['action']} with {value[:30]!r} "
                                              f"answered {answer.status}")
                context.close()
        finally:
            browser.close()

    with capsys.disabled():
        print(f"\nform sweep: {len(forms_seen)} forms on {len({e for e, _ in forms_seen})} pages, {len(roles)} roles, "
              f"{sent} hostile posts; answers {dict(sorted(statuses.items()))}")
    assert len(forms_seen) >= 20, "the form sweep found almost no forms: are the pages still read?"
    assert not errors, "\n".join(errors)
