"""Schemathesis against /api/v1 in-process (WSGI), with every check (`--checks all`): generated
requests for every operation, valid and invalid, must never get a server error or a response
that breaks the OpenAPI document; invalid ones must be refused with a 4xx, valid ones
accepted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboards.app import create_app
from ioc.live import LiveState, open_redis
from tests.integration.test_api_endpoints import ALL_SCOPES, make_token, seed

# every check sends more requests per case (e.g. each again without the token): a longer budget
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

schemathesis = pytest.importorskip("schemathesis")

# Examples per operation and generation mode; IOC_TEST_SCHEMATHESIS_EXAMPLES raises it for a
# deeper run (with every check, the default keeps the test to a few minutes on a shared machine).
EXAMPLES = int(os.environ.get("IOC_TEST_SCHEMATHESIS_EXAMPLES", "15"))


def test_schemathesis_finds_no_server_error_and_no_schema_violation(settings, db_conn):
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import CHECKS
    from schemathesis.core.result import Ok
    from schemathesis.generation.modes import GenerationMode
    from schemathesis.specs.openapi import checks as _openapi_checks  # noqa: F401 - registers them

    from tests import schemathesis_hooks  # noqa: F401 - valid requests carry no invented cursor

    live = LiveState(open_redis(settings.redis), settings.redis)
    seed(db_conn, live)
    live.r.close()
    server = create_app(settings).server
    headers = {"Authorization": "Bearer " + make_token(db_conn, *ALL_SCOPES)}
    config = schemathesis.Config.from_path(Path(__file__).parents[2] / "schemathesis.toml")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", server, config=config)
    checks = CHECKS.get_all()  # what `schemathesis run --checks all` runs
    results = list(schema.get_all_operations())
    assert [r.err() for r in results if not isinstance(r, Ok)] == []
    operations = [r.ok() for r in results]
    documented = server.test_client().get("/api/v1/openapi.json").json["paths"]
    # every operation but the document itself (Schemathesis leaves out the schema's own URL)
    assert len(operations) == sum(len(item) for item in documented.values()) - 1
    calls = 0
    skipped: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hsettings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
            def run(case):
                nonlocal calls
                calls += 1
                case.call_and_validate(checks=checks)

            try:
                run()
            except Unsatisfiable:
                # nothing to make invalid: no parameters (and the token header is fixed)
                assert mode is GenerationMode.NEGATIVE
                skipped.append(operation.label)
    assert calls >= len(operations)
    assert len(skipped) <= 3, skipped
