"""Judges for the files that are not Kubernetes objects: each by its consumer's own validator.

| file | judged by | fallback |
|---|---|---|
| Prometheus rule file | `promtool check rules` | promql-parser on every `expr` (promtool not found) |
| promtool unit test | `promtool test rules` (in the test's folder) | not judged: VAL026 warning |
| Alertmanager config | `amtool check-config`; a team fragment as the only route of a config | VAL026 |
| GitHub workflow | check-jsonschema's vendored `github-workflows` schema | VAL026 |
| GitLab CI | check-jsonschema's vendored `gitlab-ci` schema | VAL026 |
| mlspec/v1 artifacts | the schema mlspec ships for the kind (`schemas/<Kind>.json`) | VAL025 for an unknown kind |

Each judge returns its diagnostics and the name of what judged the file, which `mlspec validate` prints,
so nobody mistakes "skipped" for "valid".
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic, Severity

RULES_REJECTED = "VAL020"
PROMTOOL_TEST_FAILED = "VAL021"
ALERTMANAGER_REJECTED = "VAL022"
WORKFLOW_REJECTED = "VAL023"
GITLAB_REJECTED = "VAL024"
ARTIFACT_REJECTED = "VAL025"
NOT_JUDGED = "VAL026"

CODES: dict[str, str] = {
    RULES_REJECTED: "`promtool check rules` (or, without promtool, the PromQL parser) rejects a rule file.",
    PROMTOOL_TEST_FAILED: "`promtool test rules` fails a rendered rule unit test.",
    ALERTMANAGER_REJECTED: "`amtool check-config` rejects an Alertmanager config or team fragment.",
    WORKFLOW_REJECTED: "check-jsonschema's vendored GitHub workflow schema rejects a workflow.",
    GITLAB_REJECTED: "check-jsonschema's vendored GitLab CI schema rejects a pipeline.",
    ARTIFACT_REJECTED: "An mlspec/v1 artifact does not match the schema mlspec ships for its kind.",
    NOT_JUDGED: "No validator for this kind of file is installed here, so it was not judged (warning).",
}

TOOL_TIMEOUT = 60.0
SCHEMAS = "compiler.validation.schemas"


def _tool(name: str) -> str | None:
    return shutil.which(name)


def _run(args: list[str], cwd: Path | None = None) -> tuple[int, str]:
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


def _detail(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip() and "SUCCESS" not in line]
    return "; ".join(lines[-6:])[:1500] or "no details"


def _missing(what: str, tool: str, install: str) -> list[Diagnostic]:
    return [Diagnostic(NOT_JUDGED, f"{what} not judged: {tool} is not installed", severity=Severity.WARNING,
                       hint=install)]


def rule_file(path: Path, doc: Mapping[str, Any]) -> tuple[list[Diagnostic], str]:
    promtool = _tool("promtool")
    if promtool is not None:
        code, output = _run([promtool, "check", "rules", str(path)])
        if code != 0:
            return [Diagnostic(RULES_REJECTED, f"promtool check rules: {_detail(output)}")], "promtool check rules"
        return [], "promtool check rules"
    import promql_parser

    out = []
    for g, group in enumerate(doc.get("groups") or []):
        for r, rule in enumerate((group or {}).get("rules") or [] if isinstance(group, Mapping) else []):
            expr = rule.get("expr") if isinstance(rule, Mapping) else None
            try:
                promql_parser.parse(str(expr))
            except (ValueError, TypeError) as exc:
                out.append(Diagnostic(RULES_REJECTED, f"not PromQL: {exc}", path=("groups", g, "rules", r, "expr")))
    return out, "promql-parser (promtool not found)"


def promtool_test(path: Path) -> tuple[list[Diagnostic], str]:
    promtool = _tool("promtool")
    if promtool is None:
        return _missing("rule unit test", "promtool", "apt-get install prometheus"), "not judged"
    code, output = _run([promtool, "test", "rules", path.name], cwd=path.parent)
    if code != 0:
        return [Diagnostic(PROMTOOL_TEST_FAILED, f"promtool test rules: {_detail(output)}")], "promtool test rules"
    return [], "promtool test rules"


def alertmanager_config(path: Path, doc: Mapping[str, Any]) -> tuple[list[Diagnostic], str]:
    amtool = _tool("amtool")
    if amtool is None:
        return _missing("Alertmanager config", "amtool", "apt-get install prometheus-alertmanager"), "not judged"
    route = doc.get("route")
    fragment = isinstance(route, Mapping) and ("matchers" in route or "match" in route) and "global" not in doc
    target = path
    with tempfile.TemporaryDirectory(prefix="mlspec-amtool-") as tmp:
        if fragment:
            # A team fragment is a route below the root (the root may not have matchers): judge it as the
            # only child of a root that drops everything else, with its own receivers.
            wrapped = {"route": {"receiver": "mlspec-validate-root", "routes": [route]},
                       "receivers": [{"name": "mlspec-validate-root"}, *(doc.get("receivers") or [])]}
            target = Path(tmp) / "alertmanager.yml"
            target.write_text(json.dumps(wrapped))
        code, output = _run([amtool, "check-config", str(target)])
    how = "amtool check-config" + (" (as the only route of a config)" if fragment else "")
    if code != 0:
        return [Diagnostic(ALERTMANAGER_REJECTED, f"amtool check-config: {_detail(output)}")], how
    return [], how


@cache
def _vendor_schema(name: str) -> dict[str, Any] | None:
    try:
        text = (resources.files("check_jsonschema.builtin_schemas.vendor") / f"{name}.json").read_text()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return None
    data = json.loads(text)
    return data if isinstance(data, dict) else None


@cache
def _own_schema(kind: str) -> dict[str, Any] | None:
    try:
        data = json.loads((resources.files(SCHEMAS) / f"{kind}.json").read_text())
    except (FileNotFoundError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _schema_problems(schema: dict[str, Any], doc: Any, code: str, what: str) -> list[Diagnostic]:
    import jsonschema  # type: ignore[import-untyped,unused-ignore]

    validator = jsonschema.validators.validator_for(schema)(schema)
    out = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        best = jsonschema.exceptions.best_match([error])
        out.append(Diagnostic(code, f"{what}: {best.message[:300]}", path=tuple(best.absolute_path)))
    return out


def _yaml12_keys(doc: Mapping[Any, Any]) -> dict[Any, Any]:
    """PyYAML reads a workflow's `on:` as True (YAML 1.1); the schema, like GitHub, means the string."""
    return {("on" if key is True else key): value for key, value in doc.items()}


def github_workflow(doc: Mapping[Any, Any]) -> tuple[list[Diagnostic], str]:
    schema = _vendor_schema("github-workflows")
    if schema is None:
        return _missing("GitHub workflow", "check-jsonschema", "pip install 'mlspec-compiler[validate]'"), "not judged"
    how = "check-jsonschema vendor.github-workflows"
    return _schema_problems(schema, _yaml12_keys(doc), WORKFLOW_REJECTED, "GitHub workflow schema"), how


def gitlab_ci(doc: Mapping[Any, Any]) -> tuple[list[Diagnostic], str]:
    schema = _vendor_schema("gitlab-ci")
    if schema is None:
        return _missing("GitLab CI pipeline", "check-jsonschema", "pip install 'mlspec-compiler[validate]'"), \
            "not judged"
    return _schema_problems(schema, dict(doc), GITLAB_REJECTED, "GitLab CI schema"), "check-jsonschema vendor.gitlab-ci"


def mlspec_artifact(doc: Mapping[str, Any]) -> tuple[list[Diagnostic], str]:
    kind = str(doc.get("kind", ""))
    schema = _own_schema(kind) if kind.isidentifier() else None
    if schema is None:
        return [Diagnostic(ARTIFACT_REJECTED, f"mlspec/v1 has no artifact kind {kind!r}", path=("kind",))], \
            "mlspec artifact schemas"
    return _schema_problems(schema, dict(doc), ARTIFACT_REJECTED, f"{kind} schema"), f"mlspec schema {kind}"
