"""GET /api/openapi.json (the machine-readable contract) and GET /api/docs (the same, to read)."""

import re
from dataclasses import dataclass
from functools import cache

from flask import Blueprint, render_template
from flask_babel import gettext, lazy_gettext as _l
from markupsafe import Markup, escape

from portal.api_docs.openapi import BODY_RULES, TEXT_RULES, Code, Text, openapi_document, signing_example
from portal.extensions import limiter

bp = Blueprint("api_docs", __name__, url_prefix="/api")


@cache
def _document() -> dict:
    return openapi_document()


@cache
def _document_with_texts() -> dict:
    return openapi_document(texts=True)


@bp.get("/openapi.json")
@limiter.exempt
def openapi_json():
    return _document()


@dataclass
class Field:
    name: str
    required: bool
    kind: Markup
    limits: Markup
    description: Markup


@dataclass
class Operation:
    anchor: str
    method: str
    path: str
    summary: Markup
    description: Markup
    security: list[Markup]
    parameters: list[Field]
    body_type: Markup | None
    body: list[Field]
    responses: list[tuple[str, str, Markup]]  # status, media type, description


_BACKTICKS = re.compile(r"`([^`<>]+)`")


def _code(value) -> Markup:
    return Markup('<code translate="no">%s</code>') % value


def say(text) -> Markup:
    """The document's English (openapi.Text) in the reader's language; its values and `quoted` parts as code."""
    if isinstance(text, Code):
        return _code(text)
    if isinstance(text, Text):
        said = escape(gettext(text.msgid))
        if text.params:
            said = said % {name: say(value) for name, value in text.params.items()}
        return Markup(_BACKTICKS.sub(r'<code translate="no">\1</code>', str(said)))
    return escape(text)


def _schema_name(content: dict) -> tuple[str | None, str | None]:
    for media_type, spec in content.items():
        return media_type, spec["schema"].get("$ref", "").rsplit("/", 1)[-1] or None
    return None, None


def _kind(schema: dict) -> Markup:
    """The JSON type (code) in the reader's words: 'string or null', 'array of integer', 'constant'."""
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        kind = _code(types[0])
        for other in types[1:]:
            kind = escape(gettext("%(one)s or %(other)s")) % {"one": kind, "other": _code(other)}
    else:
        kind = escape(gettext("constant")) if "const" in schema else _code("object")
    if schema.get("format"):
        kind += Markup(" (%s)") % _code(schema["format"])
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        kind = escape(gettext("array of %(kind)s")) % {"kind": _kind(schema["items"])}
    return kind


def _limits(schema: dict) -> Markup:
    texts = {"minLength": _l("at least %(value)s characters"), "maxLength": _l("at most %(value)s characters"),
             "minimum": _l("≥ %(value)s"), "maximum": _l("≤ %(value)s"), "pattern": _l("matches %(value)s"),
             "maxItems": _l("at most %(value)s items")}
    parts = [escape(str(text)) % {"value": _code(schema[key]) if key == "pattern" else schema[key]}
             for key, text in texts.items() if key in schema]
    if "enum" in schema:
        values = _code(", ".join(str(value) for value in schema["enum"]))
        parts.append(escape(gettext("one of %(values)s")) % {"values": values})
    if "const" in schema:
        parts.append(escape(gettext("exactly %(value)s")) % {"value": _code(schema["const"])})
    return Markup("; ").join(parts)


def _fields(schema: dict) -> list[Field]:
    required = set(schema.get("required", []))
    return [Field(name, name in required, _kind(spec), _limits(spec), say(spec.get("description", "")))
            for name, spec in schema.get("properties", {}).items()]


def _operations(document: dict) -> list[Operation]:
    schemas = document["components"]["schemas"]
    operations = []
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            body_type, body_name = _schema_name(spec.get("requestBody", {}).get("content", {}))
            parameters = [Field(p["name"], p.get("required", False),
                                Markup("%s: %s") % (_code(p["in"]), _kind(p["schema"])),
                                _limits(p["schema"].get("items", p["schema"])), say(p.get("description", "")))
                          for p in spec.get("parameters", [])]
            responses = []
            for status, answer in spec["responses"].items():
                media_type, _ = _schema_name(answer.get("content", {}))
                responses.append((status, media_type or "", say(answer["description"])))
            security = [Markup(" + ").join(_code(f"{name} ({', '.join(scopes)})" if scopes else name)
                                           for name, scopes in choice.items()) or escape(gettext("none"))
                        for choice in spec.get("security", [])]
            operations.append(Operation(
                anchor=spec["operationId"], method=method.upper(), path=path, summary=say(spec["summary"]),
                description=say(spec.get("description", "")), security=security, parameters=parameters,
                body_type=_code(body_type) if body_type else None,
                body=_fields(schemas[body_name]) if body_name else [],
                responses=responses))
    return operations


@bp.get("/docs")
@limiter.exempt
def docs():
    document = _document_with_texts()
    return render_template("api_docs/index.html", document=document, operations=_operations(document),
                           example=signing_example(), rules=[say(BODY_RULES), say(TEXT_RULES)],
                           title=say(document["info"]["title"]))
