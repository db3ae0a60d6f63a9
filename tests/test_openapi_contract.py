"""The OpenAPI document is the contract (issue 8, item 5; ``api.openapi``).

Schemathesis runs in-process against the app (ASGI, no network), every check it has,
on every ``/v1`` operation, a bounded number of examples each
(``TDSL_TEST_SCHEMATHESIS_EXAMPLES``, default 25), and the stateful phase over the
document's links (submit → get → receipt). Any failure fails the test. The ledger
behind it holds records, so reads can answer 200; the client sends the provider's token,
which schemathesis also drops and corrupts for its auth checks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from test_api_support import ApiEnv, make_api_env, to_json  # noqa: E402

EXAMPLES = int(os.environ.get("TDSL_TEST_SCHEMATHESIS_EXAMPLES", "25"))

#: Operations where a request valid by the schema is still refused, by rules no JSON
#: Schema can state; the positive-data check ("schema-valid request rejected") is not run
#: there. Every other check is.
NOT_POSITIVE = {
    "POST /v1/records": "a body valid by the schema still needs a signature by a registered author (422)",
    "POST /v1/records/batch": "as POST /v1/records, for each record",
    "GET /v1/records": "since must not be after until; a date must exist (2026-02-31 is refused)",
    "GET /v1/violations": "as GET /v1/records: since must not be after until; a date must exist",
    "GET /v1/audit/bundle": "as GET /v1/records: since must not be after until; a date must exist",
    "GET /v1/proofs/inclusion": "leaf_index < tree_size <= a checkpointed size",
    "GET /v1/proofs/consistency": "from <= to <= a checkpointed size",
    "GET /v1/tlog/tile/{path}": "a canonical tile path: level <= 63, no leading zeros, width 1..255",
    "POST /v1/records/{record_id}/disclosures": "only the record's author may disclose, to registered participants",
    "DELETE /v1/records/{record_id}/disclosures/{grantee}": "only the record's author, for a grantee it disclosed to",
    "DELETE /v1/records/{record_id}/payload": "only the record's author or the operator may erase",
    "POST /v1/tokens": "the operator only, for a registered participant",
    "DELETE /v1/tokens": "the token must be an active one",
    "GET /v1/qr.{fmt}": "the link must pass GS1's grammar and check digit (400) and name an item with a passport (404)",
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with make_api_env(tmp_path_factory.mktemp("openapi") / "data", start_sealer=False) as env:
        for i in range(3):
            assert env.submit(env.alice, env.submission(env.alice, record_id=f"rec-{i}")).status_code == 201
        env.ledger.seal()
        yield env


def _all_checks():
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    return CHECKS.get_all()


def test_every_operation_answers_as_documented(env: ApiEnv):
    """Each operation, as a Hypothesis test of its own (schemathesis' pytest plugin does
    not run under pytest 9, so the strategies are driven directly); every failure of
    every operation is collected, then reported together."""
    from hypothesis import given

    schema = schemathesis.openapi.from_asgi("/openapi.json", env.client.app).include(path_regex="^/v1/")
    checks = _all_checks()
    from schemathesis.specs.openapi.checks import positive_data_acceptance
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [op.label for op in operations]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:
            excluded = [positive_data_acceptance] if case.operation.label in NOT_POSITIVE else []
            case.call_and_validate(headers=env.alice.auth, checks=[c for c in checks if c not in excluded])

        try:
            run()
        except BaseException as e:  # noqa: BLE001 - collected and reported below (FailureGroup is an ExceptionGroup)
            if isinstance(e, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {type(e).__name__}: {str(e)[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_the_linked_operations_chain_statefully(env: ApiEnv):
    """The stateful phase: sequences that follow the document's links (a submission's
    answer to its record, receipt and lineage), every check on every step. Random bodies
    never carry a valid signature, so each generated (positive) submission is replaced by a freshly
    signed one (a new id each time, so every one is appended: the same answer whenever
    Hypothesis replays a sequence): the chain submit → get → receipt runs on records
    really stored. Unsigned and malformed submissions are the stateless test's."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", env.client.app).include(path_regex="^/v1/")
    checks = _all_checks()
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    answered: set[tuple[str, int]] = set()

    class Machine(schema.as_state_machine()):  # type: ignore[misc, valid-type]
        def after_call(self, response, case):
            answered.add((case.operation.label, response.status_code))

        def before_call(self, case):
            positive = case.meta is None or not case.meta.generation.mode.is_negative
            if case.operation.label == "POST /v1/records" and positive:
                case.body = to_json(env.submission(env.alice))

        def get_call_kwargs(self, case):
            return {"headers": env.alice.auth}

        def validate_response(self, response, case, additional_checks=(), **kwargs):
            excluded = [positive_data_acceptance] if case.operation.label in NOT_POSITIVE else []
            case.validate_response(response, checks=[c for c in checks if c not in excluded], headers=env.alice.auth)

    before = env.tree_size()
    Machine.run(settings=settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                                  database=None, stateful_step_count=6))  # fmt: skip
    assert env.tree_size() > before, "no signed submission was appended: the chain never started"
    assert ("GET /v1/records/{record_id}/receipt", 200) in answered, sorted(answered)
