"""A bounded schemathesis run against the service's own OpenAPI schema: no 5xx, responses as documented."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from archscore.service import Limits, ServedModel, create_app  # noqa: E402

served = ServedModel("default")
served.refresh()  # loaded once, before the fuzzer starts
app = create_app(served, api_key="sesame", limits=Limits(max_architectures=4, parse_seconds=5))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_service_honours_its_schema(case):
    # A schema cannot say "these bytes are a valid ONNX model": schema-valid bodies are rightly refused
    # with 422 (the check below would count that as a failure); every other check applies.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
