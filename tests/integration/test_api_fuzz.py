"""Schemathesis against the served OpenAPI document: generated requests to every operation
(valid and invalid ones) get no 500, only documented status codes and content types, and
bodies that match the documented schemas; invalid input is rejected."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import checks

from api.dev_token import mint
from config.settings import Settings
from tests.integration.conftest import TENANT_C

FUZZ_USER = "0d0d0d0d-0000-4000-8000-00000000f022"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


def _load() -> Any:
    try:
        return schemathesis.openapi.from_url(f"{Settings.from_env().api_url}/openapi.json")
    except Exception as exc:  # collection must not crash: the test below reports it
        return exc


# Loaded when the module is collected (schemathesis makes one test per operation from it);
# `make test` starts the API before pytest runs.
SCHEMA = _load()

if isinstance(SCHEMA, Exception):

    def test_the_openapi_document_is_served() -> None:
        pytest.fail(f"the API's OpenAPI document could not be loaded: {SCHEMA}; run `make test`")

else:

    @SCHEMA.parametrize()
    @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def test_no_operation_breaks_its_contract(case: Any, settings: Settings) -> None:
        token = mint(TENANT_C, FUZZ_USER, secret=settings.jwt_secret)
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
