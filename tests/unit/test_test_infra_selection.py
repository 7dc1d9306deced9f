"""ORDERFLOW_TEST_INFRA: which Kafka/PostgreSQL the e2e suite uses (tests/e2e/infra.py)."""

from __future__ import annotations

import pytest

from tests.e2e.infra import InfraSelectionError, docker_engine_answers, select_mode


def docker(answer: bool):
    calls = []

    def probe() -> bool:
        calls.append(1)
        return answer
    probe.calls = calls
    return probe


@pytest.mark.parametrize("available, expected", [(True, "testcontainers"), (False, "local")])
def test_auto_is_the_default_and_follows_docker(available, expected):
    assert select_mode({}, docker(available)) == expected
    assert select_mode({"ORDERFLOW_TEST_INFRA": "auto"}, docker(available)) == expected
    assert select_mode({"ORDERFLOW_TEST_INFRA": " AUTO "}, docker(available)) == expected


@pytest.mark.parametrize("mode", ["local", "external"])
def test_explicit_modes_do_not_probe_docker(mode):
    probe = docker(True)
    assert select_mode({"ORDERFLOW_TEST_INFRA": mode}, probe) == mode
    assert probe.calls == []


def test_testcontainers_requires_an_engine():
    assert select_mode({"ORDERFLOW_TEST_INFRA": "testcontainers"}, docker(True)) == "testcontainers"
    with pytest.raises(InfraSelectionError, match="no Docker engine"):
        select_mode({"ORDERFLOW_TEST_INFRA": "testcontainers"}, docker(False))


def test_the_older_external_switch_still_works_and_the_new_one_wins():
    assert select_mode({"ORDERFLOW_EXTERNAL_INFRA": "1"}, docker(True)) == "external"
    assert select_mode({"ORDERFLOW_EXTERNAL_INFRA": "1", "ORDERFLOW_TEST_INFRA": "local"}, docker(True)) == "local"


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(InfraSelectionError, match="expected one of auto, local, testcontainers, external"):
        select_mode({"ORDERFLOW_TEST_INFRA": "kubernetes"}, docker(True))


def test_docker_probe_says_no_without_an_engine(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    assert docker_engine_answers(timeout=0.5) is False
