"""POST /v1/jobs and the form at / are derived from JobOptions: the live OpenAPI document's multipart fields are
exactly its fields (same defaults, limits, descriptions) beside the required `file`, and the form's checkboxes
are exactly its switches (label the field's title, checked its default)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from annotated_types import Ge, Le
from ocr_client.options import PAGES_MAX_CHARS, JobOptions

from tests.support import Stack

LIMITS = {Ge: ("minimum", "ge"), Le: ("maximum", "le")}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.removeprefix("#/components/schemas/")
    return _resolve(document, document["components"]["schemas"][name])


def _multipart(document: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The upload's form fields and the required ones, whether listed flat or through allOf."""
    body = document["paths"]["/v1/jobs"]["post"]["requestBody"]
    assert body["required"] is True
    schema = _resolve(document, body["content"]["multipart/form-data"]["schema"])
    parts = [schema, *(_resolve(document, part) for part in schema.get("allOf", ()))]
    properties = {name: prop for part in parts for name, prop in part.get("properties", {}).items()}
    return properties, {name for part in parts for name in part.get("required", ())}


def _limits(prop: dict[str, Any]) -> dict[str, float]:
    """minimum/maximum of the field's schema, or of its non-null branch."""
    found: dict[str, float] = {}
    for branch in [prop, *prop.get("anyOf", ())]:
        found |= {key: branch[key] for key in ("minimum", "maximum") if key in branch}
    return found


def _expected_limits(name: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for meta in JobOptions.model_fields[name].metadata:
        for kind, (key, attribute) in LIMITS.items():
            if isinstance(meta, kind):
                found[key] = getattr(meta, attribute)
    return found


def test_the_upload_fields_are_exactly_job_options(api_only_stack: Stack) -> None:
    document = api_only_stack.client.get("/openapi.json").json()
    properties, required = _multipart(document)
    assert "file" in properties and required == {"file"}, (sorted(properties), required)
    assert properties["file"]["type"] == "string" and properties["file"]["description"]
    fields = JobOptions.model_fields
    assert sorted(properties.keys() - {"file"}) == sorted(fields)
    for name, field in fields.items():
        prop = properties[name]
        assert prop.get("description") == field.description, name
        assert prop.get("default") == field.default, name
        assert _limits(prop) == _expected_limits(name), name
    assert _limits(properties["psm"]) == {"minimum": 0, "maximum": 13}, "the limits are read from the model"


def test_the_form_lists_exactly_the_switches(api_only_stack: Stack) -> None:
    page = api_only_stack.client.get("/").text
    boxes = re.findall(
        r'<input type="checkbox" id="switch-(\w+)" name="switch" value="(\w+)"( checked)?> ([^<]+)</label>', page
    )
    assert len(boxes) == page.count('name="switch"')
    shown = [(value, unescape(label), bool(checked)) for ident, value, checked, label in boxes if ident == value]
    fields = JobOptions.model_fields
    assert shown == [(name, fields[name].title, on) for name, on in JobOptions.switch_defaults().items()]
    assert [name for name, _, _ in shown] == [name for name, f in fields.items() if f.annotation is bool] != []


def test_the_form_has_the_pages_field(api_only_stack: Stack) -> None:
    page = api_only_stack.client.get("/").text
    field = JobOptions.model_fields["pages"]
    assert f'<label for="pages">{field.title}</label>' in page
    assert f'name="pages" type="text" maxlength="{PAGES_MAX_CHARS}"' in page
    assert unescape(page).count(field.description or "-") == 1
