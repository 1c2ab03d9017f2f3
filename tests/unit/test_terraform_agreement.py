"""terraform/modules/custody declares the setup ``custody bootstrap`` makes; this proves the two agree.

Terraform cannot fetch providers here, so the HCL is parsed (python-hcl2) and its values resolved against the
module's own variable defaults and locals, then compared with the data custody/bootstrap.py exposes. Any drift
(a mount name, a TTL, a policy file the module forgot, a group's policies, an audit key) fails the suite.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from custody import bootstrap as boot
from custody.repo.records import NON_HMAC_KEYS, SECRET_KEYS

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "terraform" / "modules" / "custody"
EXAMPLE = ROOT / "terraform" / "examples" / "basic"


def _load(directory: Path) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {}
    for file in sorted(directory.glob("*.tf")):
        for key, blocks in hcl2.loads(file.read_text()).items():
            merged.setdefault(key, []).extend(blocks)
    return merged


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


class Module:
    """The parsed module, with ``${var.x}`` / ``${local.x}`` / ``${vault_policy.custody["p"].name}`` resolved."""

    def __init__(self, directory: Path) -> None:
        self.raw = _load(directory)
        self.variables = {_unquote(name): body.get("default") for block in self.raw.get("variable", [])
                          for name, body in block.items()}
        self.locals = {k: v for block in self.raw.get("locals", []) for k, v in block.items()
                       if not k.startswith("__")}
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        for block in self.raw.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    self.resources[(_unquote(rtype), _unquote(name))] = body
        self.outputs = {_unquote(name) for block in self.raw.get("output", []) for name in block}

    def value(self, expr: Any) -> Any:
        if isinstance(expr, list):
            return [self.value(v) for v in expr]
        if isinstance(expr, dict):
            return {_unquote(k): self.value(v) for k, v in expr.items() if not k.startswith("__")}
        if not isinstance(expr, str):
            return expr
        if m := re.fullmatch(r"\$\{var\.(\w+)\}", expr):
            return self.value(self.variables[m.group(1)])
        if m := re.fullmatch(r"\$\{local\.(\w+)\}", expr):
            return self.value(self.locals[m.group(1)])
        if m := re.fullmatch(r'\$\{vault_policy\.custody\["([\w-]+)"\]\.name\}', expr):
            assert m.group(1) in self.value(self.locals["policy_names"]), f"{expr} names an undeclared policy"
            return m.group(1)
        return _unquote(expr)

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        assert (rtype, name) in self.resources, f"the module has no {rtype}.{name}"
        return self.resources[(rtype, name)]


def hcl_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


@pytest.fixture(scope="module")
def module() -> Module:
    return Module(MODULE)


def test_kv_mount_and_audit_tuning_agree(module: Module) -> None:
    mount = module.resource("vault_mount", "kv")
    assert module.value(mount["path"]) == boot.KV_MOUNT
    assert module.value(mount["type"]) == "kv" and module.value(mount["options"]) == {"version": "2"}
    for key in ("audit_non_hmac_request_keys", "audit_non_hmac_response_keys"):
        keys = module.value(mount[key])
        assert not set(keys) & set(SECRET_KEYS), "a secret field would be readable in the audit log"
        assert sorted(keys) == sorted(NON_HMAC_KEYS), (
            f"{key} differs from records.NON_HMAC_KEYS; in terraform/modules/custody/main.tf use\n"
            f"  non_hmac_keys = {hcl_list(NON_HMAC_KEYS)}")
    kv = module.resource("vault_kv_secret_backend_v2", "kv")
    assert module.value(kv["max_versions"]) == boot.KV_MAX_VERSIONS
    assert module.value(kv["cas_required"]) is boot.KV_CAS_REQUIRED
    assert module.value(kv["delete_version_after"]) == 0


def test_every_policy_file_is_written_from_the_file_itself(module: Module) -> None:
    assert sorted(module.value(module.locals["policy_names"])) == sorted(boot.policies())
    policy = module.resource("vault_policy", "custody")
    assert module.value(policy["for_each"]) == "${toset(local.policy_names)}"
    expr = policy["policy"]
    assert 'file("${local.policy_dir}/${each.key}.hcl")' in expr, "policies must be read from policies/*.hcl"
    # the mount rename bootstrap applies for --mount, the same way
    assert boot.POLICY_MOUNT_PLACEHOLDER.replace('"', '\\"') in expr and "${var.kv_mount}/" in expr
    default_dir = re.search(r'"\$\{path\.module\}/([^"]+)"', module.locals["policy_dir"])
    assert default_dir, module.locals["policy_dir"]
    assert (MODULE / default_dir.group(1)).resolve() == boot.POLICY_DIR


def test_approles_agree(module: Module) -> None:
    assert module.value(module.resource("vault_auth_backend", "approle")["type"]) == "approle"
    assert module.value(module.resource("vault_auth_backend", "approle")["path"]) == boot.APPROLE_MOUNT
    roles = {module.value(body["role_name"]): body for (rtype, _), body in module.resources.items()
             if rtype == "vault_approle_auth_backend_role"}
    assert sorted(roles) == sorted(boot.APPROLES)
    for name, spec in boot.Options().approles().items():
        body = roles[name]
        assert body["backend"] == "${vault_auth_backend.approle.path}"
        declared = {key: module.value(body[key]) for key in spec.payload() if key in body}
        assert declared == spec.payload(), f"AppRole {name}: Terraform and bootstrap differ"


def test_groups_agree_and_leave_members_alone(module: Module) -> None:
    assert module.value(module.locals["groups"]) == {g: list(p) for g, p in boot.GROUPS.items()}
    group = module.resource("vault_identity_group", "custody")
    assert group["for_each"] == "${local.groups}" and module.value(group["type"]) == "internal"
    assert "vault_policy.custody[p].name" in group["policies"]
    assert group["external_member_entity_ids"] is True and group["external_member_group_ids"] is True


def test_evidence_transit_key_agrees(module: Module) -> None:
    mount = module.resource("vault_mount", "transit")
    assert module.value(mount["path"]) == boot.EVIDENCE_TRANSIT_MOUNT and module.value(mount["type"]) == "transit"
    key = module.resource("vault_transit_secret_backend_key", "evidence")
    assert module.value(key["backend"]) == "${vault_mount.transit.path}"
    assert module.value(key["name"]) == boot.EVIDENCE_KEY
    assert module.value(key["type"]) == boot.EVIDENCE_KEY_TYPE
    assert module.value(key["exportable"]) is False and module.value(key["deletion_allowed"]) is False
    assert "evidence_key" in module.outputs


def test_outputs_and_example(module: Module) -> None:
    assert {"service_role_id", "rotation_role_id", "kv_mount", "group_ids"} <= module.outputs
    example = _load(EXAMPLE)
    (call,) = [body for block in example["module"] for body in block.values()]
    assert (EXAMPLE / _unquote(call["source"])).resolve() == MODULE
    declared = set(Module(MODULE).variables)
    assert {k for k in call if k not in ("source", "__is_block__", "__comments__")} <= declared
    providers = {_unquote(k): v for block in example["terraform"][0]["required_providers"] for k, v in block.items()}
    assert _unquote(providers["vault"]["source"]) == "hashicorp/vault"


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_fmt_is_clean() -> None:
    result = subprocess.run(["terraform", "fmt", "-check", "-recursive", "-diff", str(ROOT / "terraform")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
