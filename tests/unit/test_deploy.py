"""deploy/: the systemd unit and the Kubernetes manifests parse, are hardened, and name only real settings."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices

from custody.config import ServerSettings
from custody.serving import OPEN_FILES_RESERVE

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HEALTH = "/v1/custody/health"
LIVE = "/v1/custody/health/live"


def setting_names() -> set[str]:
    """Every environment variable ServerSettings reads."""
    names: set[str] = set()
    for name, info in ServerSettings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice for choice in alias.choices if isinstance(choice, str)}
        else:
            names.add(f"CUSTODY_{name.upper()}")
    return names


def assert_real_settings(names: set[str], where: str) -> None:
    unknown = {n for n in names if n.startswith("CUSTODY_")} - setting_names()
    assert not unknown, f"{where} sets variables custody does not read: {sorted(unknown)}"


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",), comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / "custody.service").read_text())
    return parser


def unit_values(key: str) -> list[str]:
    """All values of a repeated key (configparser keeps only the last one)."""
    text = (DEPLOY / "systemd" / "custody.service").read_text()
    return re.findall(rf"^{key}=(.*)$", text, flags=re.M)


def test_systemd_unit_is_hardened_and_loads_the_secret_as_a_credential() -> None:
    service = unit()["Service"]
    assert service["ExecStart"].split()[1:] == ["serve"]
    for key, value in {"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
                       "ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": ""}.items():
        assert service.get(key) == value, key
    credential = service["LoadCredential"].split(":", 1)
    env = dict(v.split("=", 1) for v in unit_values("Environment"))
    assert env["CUSTODY_SECRET_ID_FILE"] == f"%d/{credential[0]}"
    assert service["EnvironmentFile"].startswith("/etc/custody/")
    assert_real_settings(set(env), "custody.service")


def env_file() -> dict[str, str]:
    lines = [line for line in (DEPLOY / "systemd" / "custody.env").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def from_env(values: dict[str, str]) -> ServerSettings:
    return ServerSettings.model_validate({k.removeprefix("CUSTODY_").lower(): v for k, v in values.items()})


def seconds(value: str) -> float:
    return float(value.removesuffix("s"))


def test_systemd_unit_gives_the_server_files_for_its_connections_and_time_to_stop() -> None:
    service = unit()["Service"]
    limit = service["LimitNOFILE"]
    assert ":" not in limit, "one value (soft = hard): custody may not raise its own limit under @resources"
    settings = from_env(env_file())
    assert int(limit) >= settings.max_connections + OPEN_FILES_RESERVE
    assert seconds(service["TimeoutStopSec"]) >= settings.shutdown_timeout + settings.webhook_flush_timeout


def test_systemd_env_file_names_real_settings_and_no_secret() -> None:
    lines = [line for line in (DEPLOY / "systemd" / "custody.env").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    names = {line.split("=", 1)[0] for line in lines}
    assert_real_settings(names, "custody.env")
    assert {"CUSTODY_VAULT_ADDR", "CUSTODY_ROLE_ID", "CUSTODY_VAULT_CACERT"} <= names
    assert "CUSTODY_SECRET_ID" not in names
    # the example file must itself be valid settings
    values = dict(line.split("=", 1) for line in lines)
    settings = ServerSettings.model_validate({k.removeprefix("CUSTODY_").lower(): v for k, v in values.items()})
    assert settings.vault_addr.startswith("https://")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_knows_every_directive(tmp_path: Path) -> None:
    unit_file = tmp_path / "custody.service"
    unit_file.write_text((DEPLOY / "systemd" / "custody.service").read_text())
    result = subprocess.run(["systemd-analyze", "verify", str(unit_file)], capture_output=True, text=True,
                            timeout=60)
    unknown = [line for line in result.stderr.splitlines() if "Unknown key" in line or "Unknown section" in line]
    assert not unknown, unknown


def manifests() -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml")
    docs: list[dict[str, Any]] = []
    for file in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(file.read_text()) if d]
    return docs


def by_kind(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in manifests() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}"
    return found[0]


def test_kubernetes_deployment_is_hardened_and_probed() -> None:
    deploy = by_kind("Deployment")
    spec = deploy["spec"]["template"]["spec"]
    assert deploy["spec"]["replicas"] == 2
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert container["readinessProbe"]["httpGet"]["path"] == HEALTH
    assert container["livenessProbe"]["httpGet"]["path"] == LIVE  # never restarted for Vault's trouble
    assert "env" not in container or all(e["name"] != "CUSTODY_SECRET_ID" for e in container["env"])
    # the secret_id is a read-only file from the Secret, at the path the ConfigMap names
    config = by_kind("ConfigMap", "custody")["data"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    secret_vol = next(name for name, v in volumes.items() if "secret" in v)
    assert mounts[secret_vol]["readOnly"] is True
    secret_name = volumes[secret_vol]["secret"]["secretName"]
    secret = by_kind("Secret", secret_name)
    (key,) = secret["stringData"]
    assert config["CUSTODY_SECRET_ID_FILE"] == f"{mounts[secret_vol]['mountPath']}/{key}"
    ca_vol = next(name for name, v in volumes.items() if "configMap" in v)
    assert config["CUSTODY_VAULT_CACERT"].startswith(mounts[ca_vol]["mountPath"] + "/")
    assert container["ports"][0]["containerPort"] == int(config["CUSTODY_LISTEN_PORT"])


def test_kubernetes_sets_a_file_limit_that_fits_the_connections_and_time_to_stop() -> None:
    config = by_kind("ConfigMap", "custody")["data"]
    files = ("CUSTODY_VAULT_CACERT", "CUSTODY_SECRET_ID_FILE")  # paths that exist only in the pod
    settings = from_env({k: v for k, v in config.items() if k not in files})
    assert settings.open_files >= settings.max_connections + OPEN_FILES_RESERVE
    grace = by_kind("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= settings.shutdown_timeout + settings.webhook_flush_timeout


def test_kubernetes_config_names_real_settings() -> None:
    config = by_kind("ConfigMap", "custody")["data"]
    assert_real_settings(set(config), "configmap.yaml")
    assert all(name.startswith("CUSTODY_") for name in config), "envFrom skips keys that are no variable names"
    ServerSettings.model_validate({k.removeprefix("CUSTODY_").lower(): v for k, v in config.items()
                                   if k not in ("CUSTODY_VAULT_CACERT", "CUSTODY_SECRET_ID_FILE")})
    assert by_kind("Service")["spec"]["ports"][0]["port"] == int(config["CUSTODY_LISTEN_PORT"])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomization_builds() -> None:
    result = subprocess.run(["kubectl", "kustomize", str(DEPLOY / "kubernetes")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    kinds = re.findall(r"^kind: (\w+)$", result.stdout, flags=re.M)
    assert {"Deployment", "Service", "ConfigMap", "Secret"} <= set(kinds)


def test_the_health_endpoints_deploy_names_answer_without_a_token() -> None:
    """Every custody path named in deploy/ (probes, comments) is served, without a token, and liveness answers
    even when Vault does not."""
    from fastapi.testclient import TestClient

    from custody.api.app import create_app
    from tests.fakes import world

    named = {m for f in DEPLOY.rglob("*") if f.is_file() for m in re.findall(r"/v1/custody/[a-z/]+", f.read_text())}
    assert named == {HEALTH, LIVE}
    w = world()
    w.vault.healthy = False
    api = TestClient(create_app(w.uc))
    assert api.get(HEALTH).status_code == 503 and api.get(LIVE).status_code == 200
