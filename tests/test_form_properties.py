"""Properties of every form people fill in (partner, staff, patient): any posted values are either
valid or field errors, never an exception; names and free text that pass are clean (NFC, no control
characters, no text-direction controls); valid values come back as typed (normalised).
"""

import importlib
import inspect
import unicodedata
from pathlib import Path

import pytest
from flask_wtf import FlaskForm
from hypothesis import given, settings, strategies as st
from werkzeug.datastructures import MultiDict
from wtforms import SelectFieldBase
from wtforms.fields.core import UnboundField
from wtforms.validators import Optional

from portal.input_rules import BIDI_CONTROLS, OptionalText, PlainText
from tests.test_input_rules import names

PORTAL = Path(__file__).resolve().parent.parent / "portal"


def _form_classes() -> list[type]:
    found = {}
    for path in sorted(PORTAL.glob("*/forms.py")):
        module = importlib.import_module(f"portal.{path.parent.name}.forms")
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, FlaskForm) and value is not FlaskForm \
                    and value.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = value
    return [found[key] for key in sorted(found)]


FORMS = _form_classes()


def make_form(form_class, data: dict):
    kwargs = {"max_days": 366} if "max_days" in inspect.signature(form_class.__init__).parameters else {}
    form = form_class(formdata=MultiDict(data), meta={"csrf": False}, **kwargs)
    for field in form:
        if isinstance(field, SelectFieldBase) and getattr(field, "choices", None) is None:
            field.choices = [(1, "One"), (2, "Two")] if field.coerce is int else [("a", "A"), ("b", "B")]
    return form


hostile_text = st.text(max_size=60) | st.sampled_from([
    "\u200b", "Li\x00ne", "Line\u202eresnaD", "\ufffd", "  ", "9" * 400, "1969-11-13", "+4791234567",
    "0000-00-00", "9999-12-31", "-1", "2147483648", "a@b.c", "yes", "no", "later", "on", "13:00", "25:61"])


def test_every_form_of_the_portal_is_covered():
    assert len(FORMS) >= 30


def _field_names(form_class) -> list[str]:
    kwargs = {"max_days": 366} if "max_days" in inspect.signature(form_class.__init__).parameters else {}
    return [field.name for field in form_class(meta={"csrf": False}, **kwargs)] or ["x"]


@pytest.mark.parametrize("form_class", FORMS, ids=lambda c: f"{c.__module__.split('.')[1]}.{c.__name__}")
@settings(max_examples=50)  # per form: 41 forms
@given(data=st.data())
def test_any_posted_values_are_valid_or_field_errors(app, form_class, data):
    with app.test_request_context(method="POST"):
        posted = data.draw(st.dictionaries(st.sampled_from(_field_names(form_class)), hostile_text), label="posted")
        form = make_form(form_class, posted)
        valid = form.validate()
        assert isinstance(valid, bool)
        if not valid:
            assert form.errors
            return
        for field in form:
            rule = next((v for v in field.validators if isinstance(v, PlainText)), None)
            if rule is None or not field.data:
                continue
            text = field.data
            assert text == unicodedata.normalize("NFC", text) == text.strip()
            assert not any(ch in BIDI_CONTROLS for ch in text)
            allowed = "\n\t" if rule.multiline else ""
            assert not any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


BLANKS = " \u3000\x1f\x85\t\u2028"  # all blank to str.strip(); U+001F and U+0085 are control characters


def _optional_text_fields():
    for form_class in FORMS:  # the class's declared fields (no app yet at collection, so no form instances)
        for name, field in inspect.getmembers(form_class, lambda value: isinstance(value, UnboundField)):
            validators = field.kwargs.get("validators") or []
            if any(isinstance(v, PlainText) for v in validators) and any(isinstance(v, Optional) for v in validators):
                yield pytest.param(form_class, name, validators, id=f"{form_class.__name__}.{name}")


@pytest.mark.parametrize("form_class, name, validators", list(_optional_text_fields()))
def test_an_optional_text_field_left_blank_is_stored_as_nothing(app, form_class, name, validators):
    # Found at random (HYPOTHESIS_PROFILE=explore): WTForms' Optional stopped the chain before PlainText and kept
    # the blanks, so a partner's name could be "\u3000" or "\x1f". Every optional text field uses OptionalText.
    assert any(isinstance(v, OptionalText) for v in validators), "use input_rules.OptionalText, not Optional"
    with app.test_request_context(method="POST"):
        form = make_form(form_class, {name: BLANKS})
        form.validate()
        assert getattr(form, name).data == ""
        assert not getattr(form, name).errors


def test_optional_text_fields_are_found():
    assert len(list(_optional_text_fields())) >= 18


NAME_FORMS = [("portal.care_requests.forms", "PatientForm", {"birth_date": "1990-02-03", "phone": "07700900789"}),
              ("portal.scheduling.forms", "StaffBookingForm", {"national_id": "13116900216"}),
              ("portal.consultations.forms", "DirectStartForm", {"birth_date": "1965-07-15", "email": "k@example.com",
                                                                 "phone": "+4792345678"})]


@pytest.mark.parametrize("module, form_name, rest", NAME_FORMS)
@given(first=names, last=names)
def test_names_typed_in_any_script_come_back_normalised(app, module, form_name, rest, first, last):
    form_class = getattr(importlib.import_module(module), form_name)
    with app.test_request_context(method="POST"):
        form = make_form(form_class, {"first_name": first, "last_name": f" {last} ", **rest})
        assert form.validate(), form.errors
        assert form.first_name.data == unicodedata.normalize("NFC", first)
        assert form.last_name.data == unicodedata.normalize("NFC", last)
