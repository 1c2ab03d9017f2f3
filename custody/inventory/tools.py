"""Which publishing tool a command runs, and what it publishes with: the credential (flag or environment
variable), the index, and whether the tool can use Trusted Publishing on its own.

A command is unwrapped first: ``python -m twine``, ``uvx twine@6``, ``uv run twine``, ``uv tool run``,
``pipx run``, ``poetry run``, ``pdm run``, ``hatch run``, ``pipenv run``, ``env VAR=... cmd``, ``sudo -E cmd``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from custody.inventory.model import Index
from custody.inventory.refs import NONE, Ref, Scope, classify, plain


@dataclass(frozen=True)
class ToolSpec:
    name: str
    subcommands: frozenset[str]
    secret_flags: tuple[str, ...]
    secret_env: tuple[str, ...]
    index_name_flags: tuple[str, ...] = ()
    index_url_flags: tuple[str, ...] = ()
    index_env: tuple[str, ...] = ()
    value_flags: frozenset[str] = frozenset()  # other flags that take a value
    global_value_flags: frozenset[str] = frozenset()  # flags before the subcommand that take a value
    trusted: frozenset[str] = frozenset()  # CI platforms where the tool does Trusted Publishing by itself
    default_index: str = "pypi"


def _spec(name: str, subs: str, secret_flags: str, secret_env: str, *, names: str = "", urls: str = "",
          index_env: str = "", values: str = "", global_values: str = "", trusted: str = "",
          default_index: str = "pypi") -> ToolSpec:
    return ToolSpec(name, frozenset(subs.split()), tuple(secret_flags.split()), tuple(secret_env.split()),
                    tuple(names.split()), tuple(urls.split()), tuple(index_env.split()), frozenset(values.split()),
                    frozenset(global_values.split()), frozenset(trusted.split()), default_index)


TOOLS: dict[str, ToolSpec] = {s.name: s for s in (
    _spec("twine", "upload", "-p --password", "TWINE_PASSWORD", names="-r --repository", urls="--repository-url",
          index_env="TWINE_REPOSITORY_URL TWINE_REPOSITORY",
          values="-u --username -c --comment --config-file --cert --client-cert --sign-with -i --identity",
          trusted="github gitlab"),
    _spec("uv", "publish", "-t --token -p --password", "UV_PUBLISH_TOKEN UV_PUBLISH_PASSWORD", names="--index",
          urls="--publish-url", index_env="UV_PUBLISH_URL",
          values="-u --username --trusted-publishing --keyring-provider --check-url --config-file --cache-dir "
                 "--directory --project --color --allow-insecure-host",
          global_values="--directory --project --config-file --cache-dir --color", trusted="github gitlab"),
    _spec("poetry", "publish", "-p --password", "POETRY_PYPI_TOKEN_PYPI POETRY_HTTP_BASIC_PYPI_PASSWORD",
          names="-r --repository", values="-u --username --cert --client-cert --dist-dir -C --directory -P --project",
          global_values="-C --directory -P --project"),
    _spec("hatch", "publish", "-a --auth", "HATCH_INDEX_AUTH", names="-r --repo", index_env="HATCH_INDEX_REPO",
          values="-u --user --ca-cert --client-cert --client-key -o --option",
          global_values="-e --env -p --project --data-dir --cache-dir --config", default_index="main"),
    _spec("pdm", "publish", "-P --password", "PDM_PUBLISH_PASSWORD", names="-r --repository",
          index_env="PDM_PUBLISH_REPO", values="-u --username -i --identity -c --comment --ca-certs -p --project",
          global_values="-p --project -c --config", trusted="github"),
    _spec("flit", "publish", "", "FLIT_PASSWORD", names="--repository", index_env="FLIT_INDEX_URL",
          values="--pypirc --format", global_values="-f --ini-file"),
    _spec("maturin", "publish upload", "-p --password", "MATURIN_PYPI_TOKEN MATURIN_PASSWORD",
          names="-r --repository", urls="--repository-url", index_env="MATURIN_REPOSITORY_URL MATURIN_REPOSITORY",
          values="-u --username -m --manifest-path -i --interpreter --target --features -b --bindings "
                 "--compatibility -o --out", trusted="github"),
)}
CREDENTIAL_VARIABLES = frozenset(v for s in TOOLS.values() for v in s.secret_env)

def _opts(words: str) -> frozenset[str]:
    return frozenset(words.split())


_PYTHON = re.compile(r"^(?:python|python3|python3\.\d+|py|pypy3?)$")
_RUNNERS: dict[tuple[str, ...], frozenset[str]] = {  # launcher words -> its options that take a value
    ("uvx",): _opts("--from --with -w --with-requirements --with-editable --python -p --index --index-url "
                        "--extra-index-url -c --constraints --cache-dir --directory"),
    ("uv", "tool", "run"): _opts("--from --with -w --with-requirements --python -p --index --index-url "
                                     "--extra-index-url"),
    ("uv", "run"): _opts("--with -w --with-requirements --with-editable --python -p --package --directory "
                             "--project --extra --group --only-group --env-file --index --index-url "
                             "--extra-index-url"),
    ("pipx", "run"): _opts("--spec --python --pip-args --index-url"),
    ("poetry", "run"): _opts("-C --directory -P --project"),
    ("pdm", "run"): _opts("-p --project"),
    ("hatch", "run"): _opts("-e --env"),
    ("pipenv", "run"): frozenset(),
    ("sudo",): _opts("-u --user -g --group"),
    ("env",): _opts("-u --unset -C --chdir"),
}


@dataclass(frozen=True)
class Invocation:
    tool: str
    args: tuple[str, ...]  # after the subcommand
    global_args: tuple[str, ...]  # before it
    assigns: tuple[tuple[str, str], ...]  # from ``env VAR=value``
    launcher: str  # "python -m", "uvx", ... or ""


def _program(word: str) -> str:
    base = word.rsplit("/", 1)[-1]
    return re.split(r"[@=<>~!]", base, maxsplit=1)[0].lower()  # uvx twine@6.1, pipx run 'twine==6.1'


def _skip_options(words: Sequence[str], valued: frozenset[str]) -> int:
    """Index of the first word that is not an option (``--`` ends the options)."""
    i = 0
    while i < len(words) and words[i].startswith("-"):
        if words[i] == "--":
            return i + 1
        i += 2 if words[i] in valued else 1
    return i


def _unwrap(argv: Sequence[str]) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    words, assigns, launchers = list(argv), [], []  # type: list[str], list[tuple[str, str]], list[str]
    for _ in range(8):  # wrappers of wrappers, but never without end
        prog = _program(words[0]) if words else ""
        if _PYTHON.match(prog) and "-m" in words[1:]:
            at = words.index("-m", 1)
            words, launchers = words[at + 1:], [*launchers, "python -m"]
            continue
        runner = next((r for r in _RUNNERS if [_program(w) for w in words[:len(r)]] == list(r)), None)
        if runner is None:
            break
        rest = words[len(runner):]
        if runner == ("uvx",) or runner == ("uv", "tool", "run"):
            rest = _drop_from(rest)
        i = _skip_options(rest, _RUNNERS[runner])
        rest = rest[i:]
        while runner == ("env",) and rest and "=" in rest[0] and not rest[0].startswith("="):
            name, _, value = rest[0].partition("=")
            assigns.append((name, value))
            rest = rest[1:]
        words, launchers = rest, [*launchers, " ".join(runner)]
    return words, assigns, launchers


def _drop_from(rest: list[str]) -> list[str]:
    """``uvx --from twine==6.1 twine upload``: the --from value is a requirement, not the program."""
    out, i = [], 0
    while i < len(rest):
        if rest[i] == "--from" and i + 1 < len(rest):
            i += 2
            continue
        out.append(rest[i])
        i += 1
    return out


def identify(argv: Sequence[str]) -> Invocation | None:
    """The publish invocation ``argv`` is, or None (``twine check``, ``uv build``, anything else)."""
    words, assigns, launchers = _unwrap(argv)
    if not words:
        return None
    spec = TOOLS.get(_program(words[0]))
    if spec is None:
        return None
    rest = words[1:]
    at = _skip_options(rest, spec.global_value_flags)
    if at >= len(rest) or rest[at] not in spec.subcommands:
        return None
    return Invocation(spec.name, tuple(rest[at + 1:]), tuple(rest[:at]), tuple(assigns), " > ".join(launchers))


def flag_value(args: Sequence[str], flags: Sequence[str]) -> tuple[str, str] | None:
    """(flag, value) of the last of ``flags`` given in ``args`` (``--flag value`` or ``--flag=value``)."""
    found = None
    for i, word in enumerate(args):
        for flag in flags:
            if word == flag and i + 1 < len(args):
                found = (flag, args[i + 1])
            elif flag.startswith("--") and word.startswith(flag + "="):
                found = (flag, word[len(flag) + 1:])
    return found


def positionals(args: Sequence[str], spec: ToolSpec) -> list[str]:
    valued = set(spec.secret_flags) | set(spec.index_name_flags) | set(spec.index_url_flags) | spec.value_flags
    out, i = [], 0
    while i < len(args):
        if args[i].startswith("-"):
            i += 2 if args[i] in valued else 1
            continue
        out.append(args[i])
        i += 1
    return out


IndexName = Literal["pypi", "testpypi", "other"]
_TEST_NAMES = frozenset({"testpypi", "test-pypi", "test_pypi", "pypitest", "pypi-test", "test"})
_PYPI_NAMES = frozenset({"pypi", "main", "pypi.org", "warehouse"})


def safe_url(url: str) -> str:
    """``url`` without any user name or password in it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(not a URL)"
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "") if "@" in parts.netloc else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def index_of(value: str | None, default: str = "pypi") -> tuple[Index, str | None]:
    """pypi, testpypi or other, from a URL or a repository name (``.pypirc``/tool config names)."""
    text = (value or default).strip()
    if "://" in text:
        url = safe_url(text)
        host = (urlsplit(url).hostname or "").lower()
        if host in ("test.pypi.org", "testpypi.python.org"):
            return "testpypi", url
        if host in ("upload.pypi.org", "pypi.org", "pypi.python.org", "upload.pypi.io"):
            return "pypi", url
        return "other", url
    name = text.lower()
    if name in _PYPI_NAMES:
        return "pypi", None
    if name in _TEST_NAMES:
        return "testpypi", None
    return "other", text if not re.search(r"[@:]", text) else "(not shown)"


@dataclass(frozen=True)
class PublishCall:
    tool: str
    credential: Ref
    credential_from: str  # "flag: --password", "env: TWINE_PASSWORD", "none"
    index: Index
    index_url: str | None
    trusted_publishing: str | None  # uv's --trusted-publishing value
    paths: tuple[str, ...]  # positional arguments (distribution files) and directories named by options
    launcher: str


def _credential(inv: Invocation, spec: ToolSpec, env: Mapping[str, object], scope: Scope,
                repo_name: str) -> tuple[Ref, str]:
    if given := flag_value(inv.args, spec.secret_flags):
        return classify(given[1], scope), f"flag: {given[0]}"
    names = list(spec.secret_env)
    if spec.name == "poetry":  # POETRY_PYPI_TOKEN_<REPO>, POETRY_HTTP_BASIC_<REPO>_PASSWORD
        key = re.sub(r"[^A-Z0-9]", "_", repo_name.upper())
        names = [f"POETRY_PYPI_TOKEN_{key}", f"POETRY_HTTP_BASIC_{key}_PASSWORD"]
    for name in names:
        if name in env:
            ref = classify(env[name], scope)
            if ref.kind != "none":
                return ref, f"env: {name}"
    return NONE, "none"


def _index(inv: Invocation, spec: ToolSpec, env: Mapping[str, object], scope: Scope,
           repositories: Mapping[str, str]) -> tuple[Index, str | None, str]:
    given = flag_value(inv.args, spec.index_url_flags) or flag_value(inv.args, spec.index_name_flags)
    raw = given[1] if given else next((env[n] for n in spec.index_env if n in env), None)
    value = plain(raw, scope)
    name = value or spec.default_index
    if value and "://" not in value and value in repositories:  # poetry config repositories.NAME URL
        value = repositories[value]
    index, url = index_of(value, spec.default_index)
    return index, url, name


def analyse(inv: Invocation, scope: Scope, extra_env: Mapping[str, object],
            repositories: Mapping[str, str] | None = None) -> PublishCall:
    """What ``inv`` publishes with, the environment being ``scope.env`` plus ``extra_env`` (prefix assignments)."""
    spec = TOOLS[inv.tool]
    env = {**scope.env, **extra_env, **dict(inv.assigns)}
    index, url, name = _index(inv, spec, env, scope, repositories or {})
    credential, source = _credential(inv, spec, env, Scope(env, scope.secrets, scope.inputs, scope.platform), name)
    tp = flag_value(inv.args, ("--trusted-publishing",))
    dirs = [v for f in ("--directory", "--project", "-C", "-m", "--manifest-path")
            if (v := _dir_flag(inv, spec, f)) is not None]
    paths = (*positionals(inv.args, spec), *dirs)
    return PublishCall(spec.name, credential, source, index, url, tp[1] if tp else None, tuple(paths), inv.launcher)


def _dir_flag(inv: Invocation, spec: ToolSpec, flag: str) -> str | None:
    if spec.name == "hatch" or (spec.name == "pdm" and flag == "-C"):
        return None  # hatch --project names a project, not a directory
    if flag in ("-m", "--manifest-path") and spec.name != "maturin":
        return None
    given = flag_value(inv.global_args, (flag,)) or flag_value(inv.args, (flag,))
    if not given:
        return None
    return given[1].rsplit("/", 1)[0] + "/" if flag in ("-m", "--manifest-path") else given[1].rstrip("/") + "/"


def supports_trusted_publishing(tool: str, platform: str) -> bool:
    if tool == "gh-action-pypi-publish":
        return platform == "github"
    spec = TOOLS.get(tool)
    return spec is not None and platform in spec.trusted
