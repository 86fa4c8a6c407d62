"""deploy/kubernetes/ is valid Kubernetes and wired the way a user would notice if it were not.

Every manifest is checked offline against the API schemas of a recent Kubernetes release, strictly (an
unknown field, such as a misspelt `readOnlyRootFileSystem`, fails). The rest checks what the schemas
cannot: that the probes, ports, labels, Secret key and volumes refer to each other, and that the
arguments are ones the launchdeck command accepts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer.main
import yaml

from launchdeck import __version__
from launchdeck.cli import typer_app

HERE = Path(__file__).parents[2] / "deploy" / "kubernetes"
#: The Kubernetes release the manifests are checked against (kubernetes-validate bundles its schemas).
KUBERNETES = "1.35"


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((HERE / name).read_text()) if d]


MANIFESTS = sorted(p.name for p in HERE.glob("*.yaml") if p.name != "kustomization.yaml")
RESOURCES = [(name, doc) for name in MANIFESTS for doc in documents(name)]
KUSTOMIZATION = documents("kustomization.yaml")[0]


def resource(kind: str, name: str) -> dict[str, Any]:
    return next(doc for _, doc in RESOURCES if doc["kind"] == kind and doc["metadata"]["name"] == name)


SERVER = resource("Deployment", "launchdeck-server")
WORKER = resource("Deployment", "launchdeck-worker")
SERVICE = resource("Service", "launchdeck")
SECRET = resource("Secret", "launchdeck-db")
DEPLOYMENTS = {"server": SERVER, "worker": WORKER}


def pod(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod(deployment)["containers"]
    return only


@pytest.mark.parametrize("doc", [doc for _, doc in RESOURCES],
                         ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in RESOURCES])
def test_every_manifest_is_valid_kubernetes(doc: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as e:
        pytest.fail(f"{'.'.join(map(str, e.path))}: {e.message}")


def test_the_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    assert sorted(KUSTOMIZATION["resources"]) == [n for n in MANIFESTS if not n.endswith(".example.yaml")]


def test_the_image_is_this_version_of_launchdeck() -> None:
    assert {container(d)["image"] for d in DEPLOYMENTS.values()} == {"launchdeck"}
    assert [(i["name"], i["newTag"]) for i in KUSTOMIZATION["images"]] == [("launchdeck", __version__)]


@pytest.mark.parametrize("role", DEPLOYMENTS)
def test_each_deployment_selects_its_own_pods(role: str) -> None:
    selector = DEPLOYMENTS[role]["spec"]["selector"]["matchLabels"]
    labels = DEPLOYMENTS[role]["spec"]["template"]["metadata"]["labels"]
    other = next(d for r, d in DEPLOYMENTS.items() if r != role)["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert not selector.items() <= other.items()


def test_the_server_listens_where_its_probes_and_service_look() -> None:
    server = container(SERVER)
    args = server["args"]
    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    assert (args[args.index("--host") + 1], int(args[args.index("--port") + 1])) == ("0.0.0.0", ports["http"])
    assert server["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert server["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert [p["targetPort"] for p in SERVICE["spec"]["ports"]] == ["http"]
    assert SERVICE["spec"]["selector"].items() <= SERVER["spec"]["template"]["metadata"]["labels"].items()


def test_only_the_workers_drive_releases() -> None:
    assert container(SERVER)["args"][0] == "server" and "--no-worker" in container(SERVER)["args"]
    assert container(WORKER)["args"][0] == "worker" and WORKER["spec"]["replicas"] == 3


def test_server_and_workers_read_the_same_database_from_a_key_the_example_secret_has() -> None:
    sources = set()
    for deployment in DEPLOYMENTS.values():
        env = {e["name"]: e for e in container(deployment)["env"]}
        ref = env["LAUNCHDECK_DB"]["valueFrom"]["secretKeyRef"]
        sources.add((ref["name"], ref["key"]))
        # Never on the command line, where anyone listing the node's processes reads it.
        assert not any("--db" in a or "LAUNCHDECK_DB" in a or "://" in a for a in container(deployment)["args"])
    assert sources == {("launchdeck-db", "url")}
    assert "url" in SECRET["stringData"]


@pytest.mark.parametrize("role", DEPLOYMENTS)
def test_the_launchdeck_command_takes_the_arguments_and_reads_the_database_from_the_environment(
        role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    command, *args = container(DEPLOYMENTS[role])["args"]
    commands = typer.main.get_command(typer_app()).commands  # type: ignore[attr-defined]
    monkeypatch.setenv("LAUNCHDECK_DB", "postgresql+psycopg://from-the-secret/launchdeck")
    context = commands[command].make_context(command, list(args))
    assert context.params["db"] == "postgresql+psycopg://from-the-secret/launchdeck"


@pytest.mark.parametrize("role", DEPLOYMENTS)
def test_containers_run_as_non_root_on_a_read_only_root_and_write_only_to_their_volumes(role: str) -> None:
    spec, c = pod(DEPLOYMENTS[role]), container(DEPLOYMENTS[role])
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["automountServiceAccountToken"] is False
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}}
    empty = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    writable = [m["mountPath"] for m in c["volumeMounts"] if m["name"] in empty]
    env = {e["name"]: e.get("value") for e in c["env"]}
    written = [c["workingDir"], env["HOME"], "/tmp"]
    if "--home" in c["args"]:
        written.append(c["args"][c["args"].index("--home") + 1])
    assert all(any(Path(w).is_relative_to(m) for m in writable) for w in written), (written, writable)


@pytest.mark.parametrize("role", DEPLOYMENTS)
def test_every_container_has_resource_requests_and_limits(role: str) -> None:
    resources = container(DEPLOYMENTS[role])["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


def test_every_server_replica_signs_sessions_with_one_secret_from_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from launchdeck.server.web import session

    env = {e["name"]: e for e in container(SERVER)["env"]}
    ref = env[session.SECRET_ENV]["valueFrom"]["secretKeyRef"]
    # Required, not optional: a pod without it would make its own secret and sign people out at random.
    assert SERVER["spec"]["replicas"] > 1 and not ref.get("optional", False)
    assert ref["key"] in resource("Secret", ref["name"])["stringData"]
    monkeypatch.setenv(session.SECRET_ENV, "one value in the Secret")
    cookie = session.signer().dumps({"c": "csrf"})
    assert session.signer().loads(cookie) == {"c": "csrf"}  # what pod A signs, pod B reads
