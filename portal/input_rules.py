"""What every entry point accepts: bounded JSON, plain text, real moments in time.

The referral webhook, the FHIR API and the forms of every audience read what they are sent through
these functions, so a hostile or unusual value gets the same clear refusal everywhere, naming the
field, and never reaches code that would fail on it (a 500). Pure functions over values; this module
imports nothing of ours, so any package may use it without a cycle.
"""

import json
import math
import re
import unicodedata
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from wtforms import IntegerField
from wtforms.validators import Optional, StopValidation, ValidationError

# JSON bodies. Our bodies are a few levels deep (a FHIR Appointment's contained Patient's identifier
# type coding is 7); numbers are ids, ages and counts.
MAX_DEPTH = 16
MAX_INTEGER_DIGITS = 18  # fits a 64-bit column with room to spare
MAX_NUMBER_CHARS = 32  # the whole token of a decimal number, exponent included
MAX_STRING_CHARS = 10_000
MAX_KEYS = 200  # in one object

# Moments. Anything outside these years is a typo or an attack, never a clinic's appointment or message,
# and keeping well inside datetime's 1..9999 leaves room for a day's arithmetic either side.
EARLIEST = datetime(1900, 1, 1)
LATEST = datetime(2999, 12, 31, 23, 59, 59, 999999)


class InputRejected(ValueError):
    """A value is refused. `path` locates it (JSON keys and indexes; empty for the whole body)."""

    def __init__(self, path: tuple, message: str):
        super().__init__(f"{format_path(path) or 'body'}: {message}")
        self.path = tuple(path)
        self.message = message

    @property
    def field(self) -> str | None:
        return format_path(self.path) or None


def format_path(path: tuple) -> str:
    """("contained", 0, "name") -> "contained[0].name"; keys are shown safely whatever they hold."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            shown = _printable(str(part))
            text += f".{shown}" if text else shown
    return text


def _printable(text: str, limit: int = 60) -> str:
    # A key may hold lone surrogates or controls; the answer that names it must still be valid JSON text.
    shown = text.encode("utf-8", "backslashreplace").decode("utf-8")
    shown = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in shown)
    return shown if len(shown) <= limit else shown[:limit] + "…"


# --- JSON -------------------------------------------------------------------------------------

class _Refused:
    """Put in place of a value the JSON decoder must not build; the walk reports it with its path."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message


def _integer(token: str):
    digits = len(token.lstrip("-"))
    # Python refuses over 4,300 digits with a ValueError, and a long one costs quadratic time to build.
    if digits > MAX_INTEGER_DIGITS:
        return _Refused(_("a number of at most %(n)d digits", n=MAX_INTEGER_DIGITS))
    return int(token)


def _decimal(token: str):
    if len(token) > MAX_NUMBER_CHARS:
        return _Refused(_("a number of at most %(n)d characters", n=MAX_NUMBER_CHARS))
    value = float(token)
    return value if math.isfinite(value) else _Refused(_("a number that fits a 64-bit float"))


def _constant(name: str):
    return _Refused(_("a JSON number (%(name)s is not one)", name=name))


def _object(pairs: list) -> dict | _Refused:
    if len(pairs) > MAX_KEYS:
        return _Refused(_("an object of at most %(n)d keys", n=MAX_KEYS))
    built = dict(pairs)
    if len(built) != len(pairs):
        seen = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        return _Refused(_("each key once (%(key)r appears twice)", key=_printable(twice)))
    return built


def load_json(body: bytes, max_depth: int = MAX_DEPTH):
    """Decode a request body, or raise InputRejected naming where it breaks a rule.

    Rules: UTF-8; JSON without NaN/Infinity or duplicate keys; nested at most `max_depth` levels;
    integers of at most MAX_INTEGER_DIGITS digits, decimals that fit a float; strings (and keys) of
    valid Unicode, so no lone surrogates, and at most MAX_STRING_CHARS characters.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise InputRejected((), _("is not valid UTF-8 (byte %(n)d)", n=exc.start)) from None
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_decimal, parse_constant=_constant,
                           object_pairs_hook=_object)
    except RecursionError:
        raise InputRejected((), _("is nested deeper than %(n)d levels", n=max_depth)) from None
    except json.JSONDecodeError as exc:
        raise InputRejected((), _("is not valid JSON (%(why)s at line %(line)d column %(column)d)", why=exc.msg,
                                          line=exc.lineno, column=exc.colno)) from None
    _walk(value, max_depth)
    return value


def _walk(root, max_depth: int) -> None:
    stack = [(root, (), 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, _Refused):
            raise InputRejected(path, _("must be %(what)s", what=value.message))
        if isinstance(value, str):
            _check_string(value, path)
        elif isinstance(value, (dict, list)):
            if depth >= max_depth:
                raise InputRejected(path, _("is nested deeper than %(n)d levels", n=max_depth))
            if isinstance(value, dict):
                for key in value:
                    _check_string(key, path + (key,), "key")
                items = value.items()
            else:
                items = enumerate(value)
            # Reversed, so the first problem in document order is the one reported.
            stack.extend((child, path + (key,), depth + 1) for key, child in reversed(list(items)))


def _check_string(value: str, path: tuple, what: str = "value") -> None:
    if len(value) > MAX_STRING_CHARS:
        raise InputRejected(path, _("must be at most %(n)d characters", n=MAX_STRING_CHARS))
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputRejected(path, _("the %(what)s is not valid Unicode (lone surrogate U+%(code)04X)",
                                        what=what, code=ord(value[exc.start]))) from None


# --- text -------------------------------------------------------------------------------------

class TextRejected(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# Embeddings, overrides and isolates reorder what follows them on screen: "Line\u202eresnaD" shows as
# "LineDanser" reversed, the trick used to disguise file names. Marks (U+200E, U+200F, U+061C) only
# nudge neighbouring punctuation and belong in right-to-left names, so they stay.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters of no width that fonts draw as nothing (Hangul fillers, the Khmer inherent vowels, braille blank).
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u17b4\u17b5\u2800\u180e")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Zs", "Zl", "Zp", "Cc"})


def _is_noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def clean_text(value, *, max_length: int, multiline: bool = False, required: bool = True) -> str:
    """A name or free text as we store it: NFC, trimmed; or TextRejected with a message for a person.

    Refused: lone surrogates (not Unicode), U+FFFD (a character already lost on the way), control
    characters (line breaks and tabs only when `multiline`), text-direction controls, noncharacters,
    and values that are empty or hold only invisible characters (a zero-width space is no name).
    """
    if not isinstance(value, str):
        raise TextRejected(_("must be text"))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise TextRejected(_("is not valid Unicode (it holds a lone surrogate)")) from None
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        if required:
            raise TextRejected(_("must not be empty"))
        return value
    # Most names and messages are printable ASCII (U+0020-U+007E), which holds none of the characters refused
    # below, and, stripped and not empty, begins with a visible one: the loop's checks (a few Python calls
    # a character, most of a referral's intake) have nothing to find.
    if value.isascii() and value.isprintable():
        if len(value) > max_length:
            raise TextRejected(_("use at most %(n)d characters", n=max_length))
        return value
    visible = False
    for ch in value:
        code = ord(ch)
        if ch == "\ufffd":
            raise TextRejected(_("retype the character that could not be read (shown as \ufffd)"))
        if ch in BIDI_CONTROLS:
            raise TextRejected(_("remove the text-direction control U+%(code)04X: it can disguise text", code=code))
        category = unicodedata.category(ch)
        if category == "Cc" and not (multiline and ch in "\n\t"):
            raise TextRejected(_("remove the control character U+%(code)04X", code=code))
        if category in ("Zl", "Zp"):
            raise TextRejected(_("remove the line break U+%(code)04X", code=code))
        if _is_noncharacter(code):
            raise TextRejected(_("remove the noncharacter U+%(code)04X", code=code))
        if not visible and category not in _INVISIBLE_CATEGORIES and ch not in BLANK_LETTERS:
            visible = True
    if not visible:
        raise TextRejected(_("enter visible characters: this holds only invisible ones"))
    if len(value) > max_length:
        raise TextRejected(_("use at most %(n)d characters", n=max_length))
    return value


class OptionalText(Optional):
    """WTForms' Optional for a text field: an empty answer, or one of only blanks, stops the chain and is
    stored as "" (nothing). Optional alone stops the chain before PlainText and leaves the blanks as the data,
    so "   ", a U+3000 or a U+001F (str.strip() takes all three as blank) came through as a name."""

    def __call__(self, form, field):
        try:
            super().__call__(form, field)
        except StopValidation:
            if isinstance(field.data, str):
                field.data = ""
            raise


class PlainText:
    """WTForms validator: the field's text through clean_text, stored back normalised.

    Put it after DataRequired, or after OptionalText for a field that may be left empty (an empty optional
    field stops the chain before it; WTForms' own Optional would keep its blanks).
    """

    def __init__(self, max_length: int, multiline: bool = False):
        self.max_length = max_length
        self.multiline = multiline

    def __call__(self, form, field):
        try:
            field.data = clean_text(field.data or "", max_length=self.max_length, multiline=self.multiline)
        except TextRejected as exc:
            raise ValidationError(exc.message[0].upper() + exc.message[1:] + ".") from None


class BoundedIntegerField(IntegerField):
    """WTForms' IntegerField that refuses more than MAX_INTEGER_DIGITS digits as a field error.

    IntegerField builds any int, and NumberRange then compares it through float(): 400 digits raised
    OverflowError (a 500) before this.
    """

    def process_formdata(self, valuelist):
        if valuelist and len(str(valuelist[0]).strip().lstrip("+-")) > MAX_INTEGER_DIGITS:
            self.data = None
            raise ValueError(_("Enter a number of at most %(n)d digits.", n=MAX_INTEGER_DIGITS))
        super().process_formdata(valuelist)


# --- moments ----------------------------------------------------------------------------------

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_INSTANT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,12}))?)?"
                      r"(Z|[+-][0-9]{2}:[0-9]{2})?")
RANGE_TEXT = f"between the years {EARLIEST.year} and {LATEST.year}"


def parse_date(value) -> date:
    """A calendar date written YYYY-MM-DD (nothing else that fromisoformat would take), in range."""
    match = _DATE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(_("must be a date written YYYY-MM-DD"))
    try:
        parsed = date(*map(int, match.groups()))
    except ValueError:
        raise ValueError(_("is not a date of the calendar")) from None
    if not EARLIEST.date() <= parsed <= LATEST.date():
        raise ValueError(_("must be a date between the years %(first)d and %(last)d", first=EARLIEST.year,
                           last=LATEST.year))
    return parsed


def parse_instant(value, *, zone_required: bool = True) -> datetime:
    """An ISO 8601 date-time as naive UTC, or ValueError saying what is wrong.

    Seconds and a fraction of up to 12 digits are optional (digits past microseconds are dropped: the
    referral system sends seven); the offset may be Z or ±hh:mm with hh < 24. Without `zone_required` a missing offset
    means UTC. Refused: a moment outside EARLIEST..LATEST once in UTC, so no caller can overflow.
    """
    match = _INSTANT.fullmatch(value) if isinstance(value, str) else None
    if not match or (zone_required and not match.group(8)):
        raise ValueError(_("must be an ISO 8601 date-time with a time zone") if zone_required
                         else _("must be an ISO 8601 date-time"))
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    # A year a step outside the range still converts without overflow; the moment in UTC decides.
    if not EARLIEST.year - 1 <= int(year) <= LATEST.year + 1:
        raise ValueError(_moment_range())
    try:
        offset = _offset(zone)
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                         int((fraction or "0")[:6].ljust(6, "0")))
    except ValueError:
        raise ValueError(_("is not a real date and time")) from None
    moment = local - offset
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(_moment_range())
    return moment


def _moment_range() -> str:
    return _("must be a moment between the years %(first)d and %(last)d", first=EARLIEST.year, last=LATEST.year)


def _offset(zone: str | None) -> timedelta:
    if zone in (None, "Z"):
        return timedelta(0)
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError
    delta = timedelta(hours=hours, minutes=minutes)
    return -delta if zone[0] == "-" else delta
