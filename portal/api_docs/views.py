"""GET /api/openapi.json (the machine-readable contract) and GET /api/docs (the same, to read)."""

from dataclasses import dataclass
from functools import cache

from flask import Blueprint, render_template

from portal.api_docs.openapi import BODY_RULES, TEXT_RULES, openapi_document, signing_example
from portal.extensions import limiter

bp = Blueprint("api_docs", __name__, url_prefix="/api")


@cache
def _document() -> dict:
    return openapi_document()


@bp.get("/openapi.json")
@limiter.exempt
def openapi_json():
    return _document()


@dataclass
class Field:
    name: str
    required: bool
    kind: str
    limits: str
    description: str


@dataclass
class Operation:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    security: list[str]
    parameters: list[Field]
    body_type: str | None
    body: list[Field]
    responses: list[tuple[str, str, str]]  # status, media type, description


def _schema_name(content: dict) -> tuple[str | None, str | None]:
    for media_type, spec in content.items():
        return media_type, spec["schema"].get("$ref", "").rsplit("/", 1)[-1] or None
    return None, None


def _kind(schema: dict) -> str:
    kind = schema.get("type") or ("constant" if "const" in schema else "object")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if schema.get("format"):
        kind += f" ({schema['format']})"
    if kind == "array" and isinstance(schema.get("items"), dict):
        kind = f"array of {_kind(schema['items'])}"
    return kind


def _limits(schema: dict) -> str:
    parts = []
    for key, text in (("minLength", "at least {} characters"), ("maxLength", "at most {} characters"),
                      ("minimum", "≥ {}"), ("maximum", "≤ {}"), ("pattern", "matches {}"),
                      ("maxItems", "at most {} items")):
        if key in schema:
            parts.append(text.format(schema[key]))
    if "enum" in schema:
        parts.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    if "const" in schema:
        parts.append(f"exactly {schema['const']}")
    return "; ".join(parts)


def _fields(schema: dict) -> list[Field]:
    required = set(schema.get("required", []))
    return [Field(name, name in required, _kind(spec), _limits(spec), spec.get("description", ""))
            for name, spec in schema.get("properties", {}).items()]


def _operations(document: dict) -> list[Operation]:
    schemas = document["components"]["schemas"]
    operations = []
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            body_type, body_name = _schema_name(spec.get("requestBody", {}).get("content", {}))
            parameters = [Field(p["name"], p.get("required", False), f"{p['in']}: {_kind(p['schema'])}",
                                _limits(p["schema"].get("items", p["schema"])), p.get("description", ""))
                          for p in spec.get("parameters", [])]
            responses = []
            for status, answer in spec["responses"].items():
                media_type, _ = _schema_name(answer.get("content", {}))
                responses.append((status, media_type or "", answer["description"]))
            security = [" + ".join(f"{name} ({', '.join(scopes)})" if scopes else name
                                   for name, scopes in choice.items()) or "none"
                        for choice in spec.get("security", [])]
            operations.append(Operation(
                anchor=spec["operationId"], method=method.upper(), path=path, summary=spec["summary"],
                description=spec.get("description", ""), security=security, parameters=parameters,
                body_type=body_type, body=_fields(schemas[body_name]) if body_name else [],
                responses=responses))
    return operations


@bp.get("/docs")
@limiter.exempt
def docs():
    document = _document()
    return render_template("api_docs/index.html", document=document, operations=_operations(document),
                           example=signing_example(), rules=[BODY_RULES, TEXT_RULES])
