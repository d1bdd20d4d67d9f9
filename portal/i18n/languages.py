"""Which language a request speaks, and speaking another one for a while (a text message to a patient).

The order, first that applies:
1. the language chosen in this session (the switch on patient pages; a patient's record, copied into the
   session when they pass the identity check),
2. the language of the patient a page is for, before they are identified (`speak_patients_language`: a link
   from a text message opens in the language the message was written in),
3. a signed-in staff or partner user's preference (their profile; the user object is loaded anyway),
4. the browser's Accept-Language,
5. the install's region (`PORTAL_REGION`).
None of these costs a query: the session is a signed cookie and the user is already loaded.

Formatting follows language and region: English in a Norwegian install writes dates as en_NO does.
"""

from contextlib import contextmanager
from functools import lru_cache

from babel import localedata, support
from flask import current_app, g, has_app_context, has_request_context, request, session
from flask_babel import Domain, force_locale, get_locale, get_translations, lazy_gettext as _l, refresh
from flask_login import current_user
from jinja2 import pass_eval_context
from markupsafe import Markup
from wtforms.i18n import messages_path

from portal.extensions import db
from portal.i18n import pseudo
from portal.patients.services import set_language

# Endonyms: each language is offered in its own words, whatever the page's language.
LANGUAGES = {"nb": "Norsk (bokmål)", "en": "English"}
# A language's own country, for formatting when the install's region has no locale for it (nb_US).
HOME_TERRITORY = {"nb": "NO", "en": "GB"}
# The roles as people call them (staff: security.models.STAFF_ROLES; partners: partners.models.PARTNER_ROLES).
ROLE_NAMES = {"secretary": _l("secretary"), "doctor": _l("doctor"), "admin": _l("admin"),
              "reporting": _l("reporting"), "partner_admin": _l("partner admin"), "scheduler": _l("scheduler"),
              "viewer": _l("viewer")}
SESSION_KEY = "lang"
# The patient this session has identified (either patient flow), whose record the switch changes.
PATIENT_KEY = "lang_patient_id"


def offered() -> tuple[str, ...]:
    """Codes a person may choose here: the real languages, and the pseudo-locale where it is switched on."""
    if current_app.config.get("PSEUDO_LOCALE"):
        return (*LANGUAGES, pseudo.CODE)
    return tuple(LANGUAGES)


def normalise(code: str | None) -> str | None:
    """A code we speak ('nb', 'en', the pseudo-locale) from what a form, a record or a header says, else None.
    'no', 'nb-NO' and 'NB' are bokmål; 'en-US' is English."""
    if not code:
        return None
    code = code.strip().replace("-", "_")
    if code.lower() == pseudo.CODE.lower():
        return pseudo.CODE if current_app.config.get("PSEUDO_LOCALE") else None
    language = code.split("_")[0].lower()
    language = {"no": "nb"}.get(language, language)
    return language if language in LANGUAGES else None


@lru_cache(maxsize=64)
def locale_code(language: str, region_code: str) -> str:
    """The Babel locale for a language in a region: nb + NO → nb_NO, en + US → en_US, nb + US → nb_NO."""
    if language == pseudo.CODE:
        language = "en"
    candidate = f"{language}_{region_code}"
    return candidate if localedata.exists(candidate) else f"{language}_{HOME_TERRITORY[language]}"


def default_language() -> str:
    return current_app.config["PORTAL_LANGUAGE"]


def chosen_language() -> str:
    """The language code of this request (see the module's docstring for the order)."""
    if not has_request_context():
        return g.get("speaking") or default_language()
    for code in (g.get("speaking"), session.get(SESSION_KEY), g.get("patients_language"), _user_preference()):
        if code := normalise(code):
            return code
    best = request.accept_languages.best_match(["nb", "no", "nn", "en"])
    return normalise("nb" if best in ("no", "nn") else best) or default_language()


def _user_preference() -> str | None:
    if not current_app.login_manager or not current_user or not current_user.is_authenticated:
        return None
    return getattr(current_user, "language", None)


def select_locale() -> str:
    """Flask-Babel's locale selector: the chosen language written the install region's way."""
    language = chosen_language()
    g.pseudo_locale = language == pseudo.CODE
    return locale_code(language, current_app.config["PORTAL_REGION"])


def language_tag() -> str:
    """For <html lang>: 'nb-NO', 'en-GB', and 'en-XA' for the pseudo-locale."""
    locale = get_locale()
    if g.get("pseudo_locale"):
        return pseudo.CODE.replace("_", "-")
    return f"{locale.language}-{locale.territory}" if locale.territory else locale.language


def current_language() -> str:
    """'nb', 'en' or the pseudo-locale's code: what the page speaks (the switch offers the others)."""
    locale = get_locale()
    return pseudo.CODE if g.get("pseudo_locale") else locale.language


def choose(code: str) -> None:
    """A person chose a language in this session (the switch): it wins over everything else."""
    session[SESSION_KEY] = code
    refresh()


def session_choice() -> str | None:
    return normalise(session.get(SESSION_KEY))


def speak_patients_language(language: str | None) -> None:
    """This page is for one patient, not yet identified (their link's identity check): speak the language of
    their record unless this session chose one."""
    g.patients_language = language
    refresh()


def start_patient_session(patient_id: int, record_language: str | None, chosen: str | None) -> None:
    """Call right after a patient was identified (and the session cleared), with what this session had chosen
    before the clear. The session speaks the choice, else the record's language, and the switch changes this
    patient's record from now on. A choice that differs from the record is saved on it (and committed)."""
    session[PATIENT_KEY] = patient_id
    language = chosen or normalise(record_language)
    if language:
        session[SESSION_KEY] = language
        refresh()
    if chosen in LANGUAGES and chosen != record_language:
        set_language(patient_id, chosen, actor=("patient", str(patient_id)))
        db.session.commit()


# {(id of a table, catalog): (the table, its labels as text)}; the table is kept so its id stays its own.
_TRANSLATED_LABELS: dict = {}


def labels_in_language(table: dict) -> dict:
    """A table of lazy labels ({'PHONE': _l('Phone'), …}) as text in the language being spoken, translated
    once per catalog for the life of the process rather than on every page that lists them (each lazy text
    is a look-up through Flask-Babel's proxies: five of them were ~25 µs of every queue page)."""
    key = (id(table), get_translations())
    kept = _TRANSLATED_LABELS.get(key)
    if kept is None or kept[0] is not table:
        kept = _TRANSLATED_LABELS[key] = (table, {name: str(label) for name, label in table.items()})
    return kept[1]


def record_language() -> str | None:
    """What to write on a new patient's record: the language this page speaks (never the pseudo-locale)."""
    language = current_language()
    return language if language in LANGUAGES else None


@contextmanager
def speaking(language: str | None):
    """Translate and format in another language for a while: a message is written in its recipient's
    language, whatever the page's. Works in requests and in jobs (any app context)."""
    code = normalise(language) or default_language()
    before = g.get("speaking"), g.get("pseudo_locale")
    g.speaking, g.pseudo_locale = code, code == pseudo.CODE
    try:
        with force_locale(locale_code(code, current_app.config["PORTAL_REGION"])):
            yield
    finally:
        g.speaking, g.pseudo_locale = before


class PortalDomain(Domain):
    """The message catalogs, or the pseudo-locale's accenting when a request speaks it.

    The answer is kept in the request's (or job's) context for as long as its locale stays the same object
    (`force_locale` and `refresh` replace it): every translated word asks for it, ~40 times on a list page,
    and Flask-Babel's own look-up (the locale's name, its context through a dozen proxies) was a tenth of
    such a page's CPU."""

    def get_translations(self):
        if not has_app_context():
            return super().get_translations()
        here = g._get_current_object()
        kept = getattr(getattr(here, "_flask_babel", None), "portal_translations", None)
        if kept is not None and kept[0] is here._flask_babel.__dict__.get("babel_locale") \
                and kept[1] == here.get("pseudo_locale"):
            return kept[2]
        locale = get_locale()
        if locale is None:
            return super().get_translations()
        translations = _PSEUDO if here.get("pseudo_locale") else super().get_translations()
        here._flask_babel.portal_translations = (locale, here.get("pseudo_locale"), translations)
        return translations


_PSEUDO = pseudo.PseudoTranslations()


@lru_cache(maxsize=16)
def _wtforms_catalog(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class WTFormsMessages:
    """WTForms' own messages ("This field is required.") in the language being spoken, from catalogs
    parsed once per process and locale. Flask-WTF parses the catalog file again for every request that
    builds a form (its per-request cache, `request.wtforms_translations`, is this object instead)."""

    def ugettext(self, string: str) -> str:
        return _wtforms_catalog(str(get_locale())).ugettext(string)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalog(str(get_locale())).ungettext(singular, plural, n)


_WTFORMS_MESSAGES = WTFormsMessages()


def _offer_wtforms_messages() -> None:
    request.wtforms_translations = _WTFORMS_MESSAGES


def this_page() -> str:
    """Where the language switch comes back to: this address (a POST's page is shown again by its GET)."""
    return request.full_path.rstrip("?") if request.method == "GET" else request.path


def _template_gettext(domain: PortalDomain) -> dict:
    """Templates' gettext, ngettext, pgettext and npgettext, as Jinja's newstyle i18n defines them."""

    def formatted(eval_ctx, text: str, variables: dict) -> str:
        if eval_ctx.autoescape:
            text = Markup(text)
        # Always a format string ('%%' is '%'), as Jinja's; without variables or '%' it is the text itself.
        return text % variables if variables or "%" in text else text

    @pass_eval_context
    def gettext(eval_ctx, string: str, **variables) -> str:
        return formatted(eval_ctx, domain.get_translations().ugettext(string), variables)

    @pass_eval_context
    def ngettext(eval_ctx, singular: str, plural: str, num: int, **variables) -> str:
        variables.setdefault("num", num)
        return formatted(eval_ctx, domain.get_translations().ungettext(singular, plural, num), variables)

    @pass_eval_context
    def pgettext(eval_ctx, context: str, string: str, **variables) -> str:
        variables.setdefault("context", context)
        return formatted(eval_ctx, domain.get_translations().upgettext(context, string), variables)

    @pass_eval_context
    def npgettext(eval_ctx, context: str, singular: str, plural: str, num: int, **variables) -> str:
        variables.setdefault("context", context)
        variables.setdefault("num", num)
        return formatted(eval_ctx, domain.get_translations().unpgettext(context, singular, plural, num), variables)

    return {"gettext": gettext, "ngettext": ngettext, "pgettext": pgettext, "npgettext": npgettext}


def init_app(app, babel) -> None:
    domain = babel.domain_instance = PortalDomain()
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: domain.get_translations().ugettext(s),
        ngettext=lambda s, p, n: domain.get_translations().ungettext(s, p, n), newstyle=True,
        pgettext=lambda c, s: domain.get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: domain.get_translations().unpgettext(c, s, p, n))
    # Then the callables themselves are replaced by ones that do what Jinja's newstyle ones do (the catalog's
    # text is trusted as markup when autoescaping, and always a %-format whose variables are escaped) straight
    # from the one domain: Jinja's are context functions calling ours through the template's context (a
    # context call more for each of the ~25 words of a list page, and a new derived context for each word
    # after a block's `{% set %}`); Flask-Babel's own first look the domain up through three more proxies.
    # `_` is that gettext too, not Jinja's alias that looks `gettext` up in the context on every call.
    words = _template_gettext(domain)
    app.jinja_env.globals.update(words, _=words["gettext"])
    app.before_request(_offer_wtforms_messages)
    app.extensions["babel"].locale_selector = select_locale
    app.jinja_env.globals.update(language_tag=language_tag, current_language=current_language,
                                 offered_languages=offered, LANGUAGES=LANGUAGES, this_page=this_page,
                                 role_name=lambda role: ROLE_NAMES.get(role, role))
