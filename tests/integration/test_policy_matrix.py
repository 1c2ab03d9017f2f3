"""Every role's real token against the access matrix in docs/threat-model.md.

The matrix in the doc is the one declarative spec: each row a path, each column a role, each cell the exact set of
capabilities Vault's ``sys/capabilities`` must answer for that role's real token. More is a failure, exactly like
less. A few cells are then proven end to end through the custody API and Vault itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import hcl2
import httpx
import pytest

from custody.bootstrap import POLICY_DIR
from tests.helpers import Stack, uniq

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "threat-model.md"
BEGIN, END = "<!-- access-matrix:begin -->", "<!-- access-matrix:end -->"
# matrix column -> the demo identity that plays it (None: made by the fixture)
PLAYERS = {"security": "security", "requester": "engineer2", "emergency": "engineer", "approver": "approver",
           "auditor": "auditor", "rotation": "rotation", "service": None, "no group": None}


def read_matrix(text: str) -> dict[str, dict[str, frozenset[str]]]:
    """``{path: {role: capabilities}}`` from the markdown table between the markers."""
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in block.strip().splitlines()]
    header, body = rows[0], [r for r in rows[2:] if r]
    assert header[0] == "path" and header[1:] == list(PLAYERS), f"matrix columns must be {list(PLAYERS)}"
    matrix = {}
    for row in body:
        assert len(row) == len(header), f"row has {len(row)} cells: {row}"
        path = row[0].strip("`")
        assert path not in matrix, f"duplicate row {path}"
        matrix[path] = {role: frozenset() if cell == "-" else frozenset(cell.split())
                        for role, cell in zip(header[1:], row[1:], strict=True)}
    return matrix


MATRIX = read_matrix(DOC.read_text())


def render(actual: dict[str, dict[str, frozenset[str]]]) -> str:
    """The table as it should read, printed when the test fails so the doc is easy to bring up to date."""
    order = ("create", "read", "update", "delete", "list", "sudo", "root")
    lines = ["| path | " + " | ".join(PLAYERS) + " |", "|---" * (len(PLAYERS) + 1) + "|"]
    for path, roles in actual.items():
        cells = [" ".join(sorted(roles[r], key=order.index)) or "-" for r in PLAYERS]
        lines.append(f"| `{path}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def tokens(stack: Stack) -> Iterator[dict[str, str]]:
    admin = stack.admin()
    role_id = admin.call("GET", "auth/approle/role/custody-service/role-id")["data"]["role_id"]
    secret_id = (stack.dir / "service-secret-id").read_text().strip()
    service = admin.call("POST", "auth/approle/login", {"role_id": role_id, "secret_id": secret_id})["auth"]
    found = {col: stack.token(who) for col, who in PLAYERS.items() if who}
    found["service"] = service["client_token"]
    found["no group"] = stack.make_user(uniq("nogroup"))
    yield found
    admin.call("POST", "auth/token/revoke", {"token": service["client_token"]})


def capabilities(stack: Stack, token: str, paths: list[str]) -> dict[str, frozenset[str]]:
    # Asked as root about each real token (sys/capabilities), since the service's token may not ask for itself:
    # it carries no `default` policy, hence no sys/capabilities-self. For the others it is the same answer.
    resp = httpx.post(f"{stack.vault_addr}/v1/sys/capabilities", json={"token": token, "paths": paths},
                      headers={"X-Vault-Token": stack.token("root")}, timeout=10)
    resp.raise_for_status()
    data = resp.json()["data"]
    return {p: frozenset(data[p]) - {"deny"} for p in paths}


def test_every_role_can_do_exactly_what_the_matrix_says(stack: Stack, tokens: dict[str, str]) -> None:
    paths = list(MATRIX)
    by_role = {role: capabilities(stack, tokens[role], paths) for role in PLAYERS}
    actual = {path: {role: by_role[role][path] for role in PLAYERS} for path in paths}
    wrong = [f"{role} on {path}: policy gives {sorted(actual[path][role]) or '-'}, "
             f"matrix says {sorted(MATRIX[path][role]) or '-'}"
             for path in paths for role in PLAYERS if actual[path][role] != MATRIX[path][role]]
    assert not wrong, "\n".join(wrong) + "\n\nThe table as the policies stand:\n" + render(actual)


def test_only_the_service_reaches_the_kv_mount(stack: Stack) -> None:
    """A structural check on the matrix itself, so editing the doc cannot quietly open the mount."""
    for path, roles in MATRIX.items():
        if path.startswith("custody-kv/"):
            assert all(not caps for role, caps in roles.items() if role != "service"), path
        if path.startswith("custody/"):
            assert not roles["service"] and not roles["no group"], path


def test_only_the_service_signs_evidence() -> None:
    """A structural check: no row of the matrix lets anyone but the service sign with a transit key."""
    signing = [p for p in MATRIX if p.startswith("custody-transit/sign/")]
    assert "custody-transit/sign/custody-evidence" in signing
    for path in signing:
        assert all(not caps for role, caps in MATRIX[path].items() if role != "service"), path
    for path, roles in MATRIX.items():
        if path.startswith("custody-transit/") and not path.startswith("custody-transit/sign/"):
            assert all(caps <= {"read"} for caps in roles.values()), path


def _pattern(rule: str) -> re.Pattern[str]:
    """A Vault policy path as a regex: ``+`` is one segment, a trailing ``*`` a prefix glob."""
    body = re.escape(rule.removesuffix("*")).replace(r"\+", "[^/]+")
    return re.compile(body + (".*" if rule.endswith("*") else "") + r"\Z")


def test_every_policy_rule_is_exercised_by_the_matrix() -> None:
    """A rule added to a policy without a row in the matrix would go untested: refuse it."""
    for file in sorted(POLICY_DIR.glob("*.hcl")):
        for block in hcl2.loads(file.read_text())["path"]:
            for rule in block:
                rule = rule.strip('"')
                assert any(_pattern(rule).match(path) for path in MATRIX), \
                    f"{file.name}: no row of the access matrix in docs/threat-model.md exercises path {rule!r}"


@pytest.mark.parametrize(
    ("role", "method", "route", "body"),
    [
        ("requester", "POST", "accounts/pypi/{acct}/codes", {"codes": ["0123456789abcdef"]}),
        ("approver", "POST", "accounts/pypi/{acct}/grants", {"reason": "x" * 40}),
        ("requester", "POST", "accounts/pypi/{acct}/grants", {"reason": "x" * 40, "emergency": True}),
        ("auditor", "POST", "grants/{grant}/reveal", None),
        ("security", "POST", "grants/{grant}/reveal", None),
        ("requester", "POST", "grants/{grant}/approve", None),
        ("rotation", "GET", "grants?list=true", None),
        ("service", "GET", "accounts?list=true", None),
        ("no group", "GET", "accounts/pypi/{acct}", None),
    ],
)
def test_refused_cells_are_403_through_the_api(stack: Stack, tokens: dict[str, str], role: str, method: str,
                                               route: str, body: dict[str, object] | None) -> None:
    acct, grant = uniq("m"), "00000000-0000-4000-8000-000000000000"
    url = f"{stack.custody_addr}/v1/custody/{route.format(acct=acct, grant=grant)}"
    resp = httpx.request(method, url, json=body, headers={"X-Vault-Token": tokens[role]}, timeout=10)
    assert resp.status_code == 403, resp.text
    # The service's token cannot even say who it is (no `default` policy, so no lookup-self): refused earlier.
    expected = "invalid or expired" if role == "service" else "permission denied"
    assert expected in resp.json()["errors"][0]


@pytest.mark.parametrize(("role", "route"), [("auditor", "codes"), ("rotation", "codes"), ("security", "grants")])
def test_allowed_list_cells_through_the_api(stack: Stack, tokens: dict[str, str], role: str, route: str) -> None:
    resp = httpx.get(f"{stack.custody_addr}/v1/custody/{route}", params={"list": "true"},
                     headers={"X-Vault-Token": tokens[role]}, timeout=10)
    assert resp.status_code == 200, resp.text


def test_kv_mount_is_closed_to_every_role_but_the_service(stack: Stack, tokens: dict[str, str],
                                                          account: str) -> None:
    """Straight at Vault, no custody in between: read, list and write under custody-kv/."""
    for role, token in tokens.items():
        headers = {"X-Vault-Token": token}
        read = httpx.get(f"{stack.vault_addr}/v1/custody-kv/data/codes/{account}", headers=headers)
        listed = httpx.request("LIST", f"{stack.vault_addr}/v1/custody-kv/metadata/codes/pypi", headers=headers)
        write = httpx.post(f"{stack.vault_addr}/v1/custody-kv/data/probe/{uniq()}", headers=headers,
                           json={"data": {"x": "y"}, "options": {"cas": 0}})
        if role == "service":
            assert read.status_code == 200 and listed.status_code == 200 and write.status_code == 200
            assert read.json()["data"]["data"]["remaining"] == 8
        else:
            assert (read.status_code, listed.status_code, write.status_code) == (403, 403, 403), role
