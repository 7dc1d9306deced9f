"""Kubernetes manifests (deploy/k8s), validated offline: the generated files match the catalogue,
every overlay builds with kustomize, and every resource it renders validates against its schema
(core kinds: kubernetes-validate; Strimzi kinds: the CRDs in deploy/k8s/crds; ServiceMonitor and
PrometheusRule: the prometheus-operator models). Tools missing -> skipped, saying which."""

from __future__ import annotations

import copy
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed (pip install -e '.[test]')")

from contracts.topics import CATALOGUE, DEPARTMENTS  # noqa: E402
from deploy.k8s import generate  # noqa: E402
from services.runtime.kafka_acl import acl_bindings, kafka_principals  # noqa: E402
from services.runtime.version import version_of  # noqa: E402

K8S = generate.K8S
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
CRD_FILES = sorted((K8S / "crds").glob("*.yaml"))
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
PROMETHEUS_KINDS = {"ServiceMonitor", "PrometheusRule"}
KUBERNETES_VERSION = "1.32.0"      # the oldest Kubernetes the manifests target


def test_generated_files_match_the_catalogue_and_code():
    """Fails when contracts/topics.py, kafka_acl.py, a version or a rules file changed without
    `python -m deploy.k8s.generate`."""
    assert generate.main(["--check"]) == 0, "run `python -m deploy.k8s.generate` and commit the result"


def _generated(path: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((K8S / path).read_text()))


def test_one_kafka_topic_per_catalogue_topic():
    topics = {d["spec"]["topicName"]: d["spec"] for d in _generated("base/kafka/generated.yaml")
              if d["kind"] == "KafkaTopic"}
    assert set(topics) == set(CATALOGUE)
    for name, spec in CATALOGUE.items():
        assert topics[name]["partitions"] == spec.partitions
        assert topics[name]["config"]["retention.ms"] == str(spec.retention_ms)


def test_kafka_users_carry_exactly_the_acl_bindings():
    """Expanding the generated Strimzi rules gives back acl_bindings(), binding for binding."""
    users = {d["metadata"]["name"]: d["spec"] for d in _generated("base/kafka/generated.yaml")
             if d["kind"] == "KafkaUser"}
    assert set(users) == set(kafka_principals())
    expanded = set()
    for principal, spec in users.items():
        assert spec["authentication"] == {"type": "scram-sha-512"}
        assert spec["authorization"]["type"] == "simple"
        for rule in spec["authorization"]["acls"]:
            assert rule["type"] == "allow"
            resource = rule["resource"]
            pattern = {"literal": "literal", "prefix": "prefixed"}[resource.get("patternType", "literal")]
            name = resource.get("name", "kafka-cluster")
            for operation in rule["operations"]:
                expanded.add((principal, resource["type"], name, pattern, operation, rule["host"]))
    expected = {(b.principal, b.resource_type, b.resource_name, b.pattern_type, b.operation, b.host)
                for b in acl_bindings()}
    assert expanded == expected
    # Spot checks of what the catalogue means: warehouse may not write finance's events.
    assert ("warehouse", "topic", "finance.events.v1", "literal", "Write", "*") not in expanded
    assert ("finance", "topic", "finance.events.v1", "literal", "Write", "*") in expanded
    assert not any(p == "outside-reader" and op == "Write" for p, _, _, _, op, _ in expanded)


def test_each_department_is_deployed_with_its_own_version_probes_and_secrets():
    docs = _generated("base/departments/generated.yaml")
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == set(DEPARTMENTS)
    for dept, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == f"orderflow-{dept}:{version_of(dept)}"
        assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == version_of(dept)
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"secretName": dept, "items": [{"key": "password", "path": "password"}]} in \
            [v.get("secret") for v in pod["volumes"]]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for dept in DEPARTMENTS:
        for kind in ("ConfigMap", "Service", "PodDisruptionBudget", "ServiceMonitor"):
            assert (kind, dept if kind != "ConfigMap" else f"orderflow-{dept}") in kinds


@cache
def _rendered(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with kustomize) is not installed: cannot build the overlays")
    result = subprocess.run([kubectl, "kustomize", str(K8S / "overlays" / overlay)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"kubectl kustomize overlays/{overlay} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds(overlay):
    docs = _rendered(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "StatefulSet", "Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser",
            "PodDisruptionBudget", "ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds
    namespaces = {d["metadata"].get("namespace") for d in docs}
    assert len(namespaces) == 1 and None not in namespaces, namespaces


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_kinds_validate(overlay):
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate is not installed (pip install -e '.[test]')")
    checked = 0
    for doc in _rendered(overlay):
        if doc["kind"] in STRIMZI_KINDS | PROMETHEUS_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{overlay}: {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
        checked += 1
    assert checked >= 20


def _strict(schema: Any) -> Any:
    """A CRD schema that also rejects unknown fields (the API server would drop them silently:
    a typo in a manifest must fail here instead)."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@cache
def _crd_validators() -> dict[tuple[str, str], Any]:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (pip install -e '.[test]')")
    validators = {}
    for path in CRD_FILES:
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
            # metadata is checked by the API server, not by the CRD's schema.
            schema["properties"]["metadata"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(_strict(schema))
    return validators


def test_the_strimzi_crds_are_in_the_repository():
    kinds = {yaml.safe_load(p.read_text())["spec"]["names"]["kind"] for p in CRD_FILES}
    assert kinds == STRIMZI_KINDS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_strimzi_kinds_validate_against_the_crds(overlay):
    validators = _crd_validators()
    checked = 0
    for doc in _rendered(overlay):
        if doc["kind"] not in STRIMZI_KINDS:
            continue
        validator = validators.get((doc["apiVersion"], doc["kind"]))
        assert validator is not None, f"no CRD for {doc['apiVersion']} {doc['kind']}"
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, f"{overlay}: {doc['kind']}/{doc['metadata']['name']}:\n" + "\n".join(errors)
        checked += 1
    assert checked == 2 + len(CATALOGUE) + len(kafka_principals())


def test_the_crd_check_catches_a_typo():
    """The strict CRD validation is not vacuous: an unknown field and a wrong enum fail."""
    validator = _crd_validators()[("kafka.strimzi.io/v1", "KafkaUser")]
    user = copy.deepcopy(next(d for d in _generated("base/kafka/generated.yaml") if d["kind"] == "KafkaUser"))
    assert not list(validator.iter_errors(user))
    user["spec"]["authorization"]["acls"][0]["operation"] = "Read"      # v1 has only `operations`
    assert list(validator.iter_errors(user))
    user = copy.deepcopy(next(d for d in _generated("base/kafka/generated.yaml") if d["kind"] == "KafkaUser"))
    user["spec"]["authentication"]["type"] = "plain"
    assert list(validator.iter_errors(user))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_operator_kinds_validate(overlay):
    models = pytest.importorskip("cloudcoil.models.prometheus_operator.v1",
                                 reason="cloudcoil-models-prometheus-operator is not installed")
    checked = 0
    for doc in _rendered(overlay):
        if doc["kind"] not in PROMETHEUS_KINDS:
            continue
        model = getattr(models, doc["kind"]).model_validate(doc)
        # The models ignore unknown fields; a round trip that loses something names a typo.
        assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == doc, \
            f"{overlay}: {doc['kind']}/{doc['metadata']['name']} has fields the operator does not know"
        checked += 1
    assert checked >= len(DEPARTMENTS) + 1


def test_prometheus_rule_holds_every_observability_rule_group():
    (rule,) = _generated("base/monitoring/generated.yaml")
    files = generate.rule_files()
    assert files, "deploy/observability/rules/ has no rule file"
    expected = [g["name"] for path in files for g in yaml.safe_load(path.read_text())["groups"]]
    assert [g["name"] for g in rule["spec"]["groups"]] == expected


@pytest.mark.parametrize("path", sorted(Path(K8S).rglob("kustomization.yaml")), ids=lambda p: str(p.relative_to(K8S)))
def test_kustomizations_reference_existing_files(path):
    kustomization = yaml.safe_load(path.read_text())
    for entry in kustomization.get("resources", []):
        assert (path.parent / entry).exists(), f"{path.relative_to(K8S)}: {entry} does not exist"
