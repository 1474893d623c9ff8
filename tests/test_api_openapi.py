"""The OpenAPI document: a valid OpenAPI 3.1 document, served as generated, naming every route
with its role, parameters and schemas (each response of the other API tests is checked against
it by api_support)."""

from __future__ import annotations

from openapi_spec_validator import validate

from hotline.web.declare import API
from hotline.web.openapi import document

from api_support import DOC, ApiClient


def test_the_document_is_valid_openapi() -> None:
    validate(DOC)


def test_the_served_document_is_the_generated_one(api: ApiClient) -> None:
    reply = api.get("/openapi.json")
    assert reply.json == document(API.all)
    assert reply.header("content-type") == "application/json; charset=utf-8"


def test_every_route_is_documented_with_its_role_and_parameters() -> None:
    for route in API.all:
        op = DOC["paths"][route.path][route.method.lower()]
        assert op["operationId"] == route.handler.__name__
        assert op.get("x-role") == (route.role.value if route.role else None)
        assert [p["name"] for p in op["parameters"]] == [
            p.name for p in (*route.path_params, *route.query)
        ]
        assert ("requestBody" in op) == (route.body is not None)
        assert op["security"] == ([] if route.role is None else [{"bearer": []}, {"session": []}])
    operation_ids = [r.handler.__name__ for r in API.all]
    assert len(operation_ids) == len(set(operation_ids))


def test_a_request_body_schema_is_what_the_handler_checks(api: ApiClient) -> None:
    schema = DOC["paths"]["/tickets"]["post"]["requestBody"]["content"]["application/json"]
    assert schema["schema"]["required"] == ["kind", "category", "unit"]
    assert schema["schema"]["additionalProperties"] is False
    missing = api.post("/tickets", {"kind": "repair", "category": "leak"}, as_="li")
    assert missing.json["error"]["message"] == "unit is required"
