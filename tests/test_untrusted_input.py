"""Specs come from pull requests: every value is untrusted (issue 10).

- pattern validators use `fullmatch`: a trailing newline never passes (`re.match(r"...$")` accepts it);
- control characters are refused at lint wherever one line belongs, and are harmless where text may
  span lines (a property test over every string of every example spec renders what lints clean);
- credential-shaped values are refused in every field, with the same definition the diff redaction uses;
- runbooks are http(s) links; repositories are git remotes;
- values that become Kubernetes label keys and values are checked at lint, with their position.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.check import credentials
from compiler.deploy.redact import REDACTED, redact, redact_text
from compiler.diagnostics import Diagnostic, dotted, has_errors
from compiler.language.project import Project
from compiler.language.yamlsource import iter_paths, load_document
from compiler.pipeline import Context, SpecResult, check_spec, make_context, render_spec
from golden import SPECS

EXAMPLES = sorted(SPECS.glob("*.yaml"))
FRAUD = SPECS / "fraud-detector.yaml"


@cache
def context() -> Context:
    return make_context(SPECS.parent)


@cache
def example(path: Path) -> Any:
    doc, _ = load_document(path.read_bytes(), path.name)
    assert doc is not None
    return doc.data


def mutate(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(data)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def lint(data: Any) -> SpecResult:
    return check_spec(json.dumps(data).encode(), "mutant.yaml", "mutant.yaml", context())


def errors_at(result: SpecResult, path: tuple[Any, ...]) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.is_error and d.path == path]


# --- 1. a trailing newline passes no pattern validator -------------------------------------------------

NEWLINE_FIELDS = [
    (("metadata", "name"), "fraud-detector"),
    (("metadata", "team"), "risk-ml"),
    (("serving", "environments", "production", "namespace"), "risk-prod"),
    (("model", "code", "commit"), "4e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f"),
    (("data", "dvc", "md5"), "3f2a9c0d5b7e4f1a8c6d2e9b0a1f3c4d"),
    (("data", "dvc", "commit"), "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"),
    (("pipeline", "steps", 1, "resources", "memory"), "16Gi"),
    (("pipeline", "steps", 1, "resources", "cpu"), "4"),
    (("serving", "resources", "memory"), "4Gi"),
    (("owners", 0, "email"), "fraud-owner@example.com"),
    (("owners", 0, "github"), "@acme/fraud-ml"),
    (("gates", 0, "metric"), "auc"),
    (("pipeline", "steps", 2, "metrics", 0), "auc"),
    (("pipeline", "image"), "ghcr.io/acme/fraud-train:12"),
    (("model", "version"), "12"),
    (("data", "version"), "2026.11.1"),
    (("data", "features", 0, "name"), "amount"),
    (("monitors", 1, "threshold"), "150ms"),
    (("monitors", 0, "for"), "30m"),
    (("rollout", "shadow", "duration"), "24h"),
]


@pytest.mark.parametrize(("path", "value"), NEWLINE_FIELDS, ids=[dotted(p) for p, _ in NEWLINE_FIELDS])
def test_trailing_newline_is_refused(path: tuple[Any, ...], value: str) -> None:
    data = example(FRAUD)
    assert not has_errors(lint(mutate(data, path, value)).diagnostics), "the unmutated value must be valid"
    result = lint(mutate(data, path, value + "\n"))
    assert errors_at(result, path), [str(d) for d in result.diagnostics]


def test_env_name_with_trailing_newline_is_refused() -> None:
    data = example(FRAUD)
    env = data["pipeline"]["steps"][1]["env"]
    result = lint(mutate(data, ("pipeline", "steps", 1, "env"), {**env, "EXTRA\n": "x"}))
    assert has_errors(result.diagnostics)


def test_memory_with_newline_no_longer_crashes_render() -> None:
    """It used to lint clean and then fail in the kubeflow target (exit 3 from the CLI)."""
    result = lint(mutate(example(FRAUD), ("pipeline", "steps", 1, "resources", "memory"), "16Gi\n"))
    assert [d.code for d in result.diagnostics if d.is_error] == ["MLS105"]


def test_image_and_pin_checks_use_fullmatch() -> None:
    from compiler.check.rules import image_problem

    assert image_problem("ghcr.io/acme/x:1\n") is not None
    data = mutate(example(FRAUD), ("model", "uri"), "s3://models/fraud@" + "a" * 40 + "\n")
    assert errors_at(lint(data), ("model", "uri"))


@pytest.mark.parametrize("path", [("gates", 0, "min"), ("gates", 1, "max"), ("monitors", 0, "threshold"),
                                  ("monitors", 3, "objective"), ("data", "features", 0, "min")])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_refused(path: tuple[Any, ...], value: float) -> None:
    """Found by the fuzz test: `min: .nan` on a gate linted clean and crashed the renderers."""
    result = check_spec(json.dumps(mutate(example(FRAUD), path, value)).encode(), "m.yaml", "m.yaml", context())
    assert [d.code for d in errors_at(result, path)] == ["MLS105"]


# --- control characters: refused where one line belongs, harmless elsewhere (property) -----------------


def string_fields() -> list[tuple[int, tuple[Any, ...]]]:
    out = []
    for index, path in enumerate(EXAMPLES):
        data = example(path)
        for where in iter_paths(data):
            node = data
            for part in where:
                node = node[part]
            if isinstance(node, str):
                out.append((index, where))
    return out


STRING_FIELDS = string_fields()
CONTROLS = ["\n", "\r", "\t", "\x00"]


def k8s_names(text: bytes) -> list[str]:
    names = []
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
            meta = doc["metadata"]
            names += [str(meta.get("name", "")), str(meta.get("namespace", ""))]
            names += [str(k) for k in meta.get("labels") or {}] + [str(v) for v in (meta.get("labels") or {}).values()]
    return names


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(STRING_FIELDS), char=st.sampled_from(CONTROLS))
def test_control_character_is_refused_or_harmless(field: tuple[int, tuple[Any, ...]], char: str) -> None:
    index, path = field
    data = example(EXAMPLES[index])
    original = data
    for part in path:
        original = original[part]
    result = lint(mutate(data, path, original + char))
    if has_errors(result.diagnostics):
        assert any(d.path[: len(path)] == path or d.path == path[:-1] for d in result.diagnostics if d.is_error), (
            "refused, but not at the mutated field", [str(d) for d in result.diagnostics])
        return
    render_spec(result, context())
    assert not has_errors(result.diagnostics), [str(d) for d in result.diagnostics]
    for rel, content in result.files.items():
        assert char not in rel, rel
        if rel.endswith("CODEOWNERS"):
            assert all(char not in line for line in content.decode().splitlines()), rel
        if rel.endswith((".yaml", ".yml")):
            for name in k8s_names(content):
                assert char not in name, (rel, name)


def test_codeowners_is_not_rewritten_by_a_newline_in_the_name() -> None:
    from compiler.pipeline import run

    result = run([FRAUD], root=SPECS.parent, render=True)
    assert result.ok
    data = mutate(example(FRAUD), ("metadata", "name"), "fraud-detector\n")
    assert any(d.code == "MLS223" for d in lint(data).diagnostics)


def test_bidi_override_is_refused_in_a_one_line_field() -> None:
    result = lint(mutate(example(FRAUD), ("data", "dataset"), "card\u202etransactions"))
    assert [d.code for d in errors_at(result, ("data", "dataset"))] == ["MLS240"]


def test_newlines_are_allowed_in_prose_and_scripts() -> None:
    data = mutate(example(FRAUD), ("metadata", "description"), "Line one.\nLine two.\n")
    data = mutate(data, ("pipeline", "steps", 0, "command"), ["bash", "-c", "set -e\npython -m fraud.validate\n"])
    assert not has_errors(lint(data).diagnostics)


# --- 2. credentials never reach rendered files -----------------------------------------------------------

PAT = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN"
GLPAT = "glpat-AbCdEfGhIjKlMnOpQrSt"
CREDENTIAL_CASES = [
    (("model", "uri"), "https://deploy:s3cr3t-pass@models.example.com/fraud/12"),
    (("model", "uri"), "https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@models.example.com/fraud/12"),
    (("model", "code", "repo"), "https://oauth2:" + GLPAT + "@gitlab.example.com/acme/fraud"),
    (("model", "code", "repo"), "https://x-access-token@github.com/acme/fraud"),
    (("data", "dvc", "repo"), "https://user:pw@github.com/acme/data-registry"),
    (("metadata", "description"), "Scores fraud. Registry token " + PAT),
    (("modelCard", "limitations"), "Uses " + GLPAT + " for the feature store."),
    (("pipeline", "steps", 0, "command", 2), "AKIAABCDEFGHIJKLMNOP"),
    (("pipeline", "steps", 1, "env", "MLFLOW_TRACKING_URI"), "http://admin:admin123@mlflow.mlops:5000"),
    (("monitors", 1, "runbook"), "https://wiki:pw@runbooks.example.com/fraud/latency"),
]


@pytest.mark.parametrize(("path", "value"), CREDENTIAL_CASES, ids=[dotted(p) for p, _ in CREDENTIAL_CASES])
def test_credentials_are_refused_with_position(path: tuple[Any, ...], value: str) -> None:
    result = lint(mutate(example(FRAUD), path, value))
    found = [d for d in errors_at(result, path) if d.code == "MLS225"]
    assert found, [str(d) for d in result.diagnostics]
    assert found[0].line > 1 or found[0].col > 0
    assert "secret" in (found[0].hint or "").lower() or "Secret" in (found[0].hint or "")
    # the message never repeats the secret
    assert all(value not in d.message for d in found)


def test_credentials_in_labels_node_selectors_and_args() -> None:
    data = example(SPECS / "support-assistant.yaml")
    step = copy.deepcopy(data["pipeline"]["steps"][1])
    step["nodeSelector"] = {"pool": GLPAT}
    step["args"] = ["--lora-rank", "16", "--hub-token", "hf_plain_value_123", "--api-key=abc123def"]
    data = mutate(data, ("pipeline", "steps", 1), step)
    data = mutate(data, ("metadata", "labels"), {"owner": PAT[:60]})
    result = lint(data)
    codes = {(d.code, d.path) for d in result.diagnostics}
    assert ("MLS225", ("pipeline", "steps", 1, "nodeSelector", "pool")) in codes
    assert ("MLS225", ("pipeline", "steps", 1, "args", 2)) in codes
    assert ("MLS225", ("pipeline", "steps", 1, "args", 4)) in codes
    assert ("MLS225", ("metadata", "labels", "owner")) in codes


@pytest.mark.parametrize("value", [
    "ssh://git@github.com/acme/fraud", "git@github.com:acme/fraud.git", "https://github.com/acme/fraud",
])
def test_look_alikes_are_not_credentials(value: str) -> None:
    assert credentials.first(value) is None
    assert not errors_at(lint(mutate(example(FRAUD), ("model", "code", "repo"), value)), ("model", "code", "repo"))


def test_flag_references_and_numbers_are_not_secrets() -> None:
    data = mutate(example(FRAUD), ("pipeline", "steps", 1, "args"),
                  ["--api-key", "$(API_KEY)", "--max-tokens", "512", "--token-file=/var/run/token"])
    assert not has_errors(lint(data).diagnostics)


@pytest.mark.parametrize(("_path", "value"), CREDENTIAL_CASES)
def test_redaction_uses_the_same_definition(_path: tuple[Any, ...], value: str) -> None:
    """The diff's second line of defence hides exactly what lint refuses."""
    found = credentials.first(value)
    assert found is not None
    shown = redact_text(value)
    assert value[found.start:found.end] not in shown
    assert REDACTED in shown
    assert redact({"storageUri": value})["storageUri"] == shown


def test_redaction_keeps_the_host_of_a_url() -> None:
    assert redact_text("https://user:pw@host.example.com/x") == f"https://{REDACTED}@host.example.com/x"


# --- 5. URL schemes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["javascript:alert(1)", "data:text/html,<script>", "file:///etc/passwd",
                                   "ftp://runbooks.example.com/x", "https://", "//runbooks.example.com/x"])
def test_runbook_must_be_http(value: str) -> None:
    result = lint(mutate(example(FRAUD), ("monitors", 1, "runbook"), value))
    assert [d.code for d in errors_at(result, ("monitors", 1, "runbook"))] == ["MLS241"]


@pytest.mark.parametrize("value", ["javascript:alert(1)", "file:///srv/git/fraud", "ext::sh -c touch% /tmp/pwned"])
def test_repository_must_be_a_git_remote(value: str) -> None:
    for path in (("model", "code", "repo"), ("data", "dvc", "repo")):
        result = lint(mutate(example(FRAUD), path, value))
        assert [d.code for d in errors_at(result, path)] == ["MLS241"], path


def test_project_runbook_base_must_be_http(tmp_path: Path) -> None:
    (tmp_path / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n"
                                          "defaults: {runbookBase: 'javascript:alert(1)//'}\n")
    ctx = make_context(tmp_path)
    assert [(d.code, d.line) for d in ctx.diagnostics] == [("MLS241", 3)]
    assert Project.model_validate({"defaults": {"runbookBase": "https://runbooks.example.com"}})


@pytest.mark.parametrize(("setting", "line"), [
    ("prometheus: {stalenessRunbookUrl: 'javascript:alert(1)'}", 4),
    ("prometheus: {retrainWebhookUrl: 'file:///var/run/x'}", 4),
    ("prometheus: {alertmanager: {teams: {risk-ml: {webhookUrl: 'gopher://x'}}}}", 4),
    ("kserve: {loggerUrl: 'ftp://logger'}", 4),
])
def test_target_settings_urls_must_be_http(tmp_path: Path, setting: str, line: int) -> None:
    (tmp_path / "mlspec.yaml").write_text(f"apiVersion: mlspec/v1\nkind: Project\ntargets:\n  {setting}\n")
    ctx = make_context(tmp_path)
    assert [(d.code, d.line) for d in ctx.diagnostics] == [("MLS241", line)], [d.to_text() for d in ctx.diagnostics]


# --- 9. label values at lint ----------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "value"), [
    (("metadata", "labels", "cost-center"), "cc 42"),
    (("metadata", "labels", "cost-center"), "-cc"),
    (("pipeline", "steps", 1, "nodeSelector", "cloud.google.com/gke-accelerator"), "nvidia l4"),
    (("pipeline", "steps", 1, "tolerations", 0, "value"), "gpu training"),
])
def test_label_values_are_checked_at_lint(path: tuple[Any, ...], value: str) -> None:
    data = example(SPECS / "support-assistant.yaml")
    if path[0] == "metadata":
        data = mutate(data, ("metadata", "labels"), {"cost-center": "cc-42"})
        assert not has_errors(lint(data).diagnostics)
    result = lint(mutate(data, path, value))
    found = errors_at(result, path)
    assert [d.code for d in found] == ["MLS242"], [str(d) for d in result.diagnostics]
    assert found[0].line > 0


def test_node_selector_key_is_checked_at_lint() -> None:
    data = example(SPECS / "support-assistant.yaml")
    data = mutate(data, ("pipeline", "steps", 1, "nodeSelector"), {"Bad Key!": "x"})
    assert [d.code for d in errors_at(lint(data), ("pipeline", "steps", 1, "nodeSelector", "Bad Key!"))] == ["MLS242"]


# --- no `match` with a `$`-anchored pattern anywhere (the trailing-newline hole, as a regression guard) -----

def test_no_dollar_anchored_pattern_is_used_with_match() -> None:
    """`re.match(r"^x$", "x\\n")` succeeds. Every module-level pattern ending in `$` must be applied with
    `fullmatch`."""
    import ast
    import re as _re

    from golden import REPO

    offenders = []
    for path in sorted([*REPO.glob("compiler/**/*.py"), *REPO.glob("targets/**/*.py")]):
        rel = path.relative_to(REPO).as_posix()
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            # NAME = re.compile("...$"), read by the parser so a quote inside the pattern cannot hide it
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "re.compile"
                    and node.value.args and isinstance(node.value.args[0], ast.Constant)
                    and str(node.value.args[0].value).endswith("$")):
                name = node.targets[0].id
                if _re.search(rf"\b{name}\.match\(", text):
                    offenders.append(f"{rel}: {name}")
            if (isinstance(node, ast.Call) and ast.unparse(node.func) == "re.match" and node.args
                    and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).endswith("$")):
                offenders.append(f"{rel}: re.match({node.args[0].value!r})")
    assert not offenders, "\n".join(offenders)
