"""A small local runner for the rendered CI files: GitHub Actions workflows and GitLab CI pipelines.

It runs each job's shell steps under bash in a fresh copy of the spec repository, with the environment
the provider gives (GITHUB_*/CI_* variables, `env:`/`variables:`, secrets and variables as env, job
outputs through $GITHUB_OUTPUT or dotenv reports). It resolves only the `${{ }}` expressions and `if:`
conditions the ci target writes, and refuses anything else, so a new construct fails the test instead of
being silently mis-simulated. Jobs in a protected environment wait until the caller approves them.

A step that `uses:` one of `local_actions` (our own action.yml) runs that composite action's steps as
the runner does: inputs bound from `with:` over the defaults (`${{ inputs.x }}`), each step's `if:` and
`env:` evaluated, `run:` under `bash -eo pipefail`, $GITHUB_ENV reaching the rest of the job and
$GITHUB_OUTPUT the action's `steps` context.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_TERM = re.compile(r"^(github\.[a-z_]+)\s*(==|!=)\s*'([^']*)'$")
_ACTION_TERM = re.compile(r"^((?:inputs|github|steps)\.[a-z0-9_.-]+)\s*(==|!=)\s*'([^']*)'$")
_GL_TERM = re.compile(r'^\$([A-Z_]+)\s*(==|!=)\s*"([^"]*)"$')
_GL_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
STEP_TIMEOUT = 120.0


class Refused(AssertionError):
    """The file uses a construct this runner does not model."""


@dataclass
class JobResult:
    status: str  # success | failure | skipped | waiting
    outputs: dict[str, str] = field(default_factory=dict)
    log: str = ""


@dataclass
class Runner:
    """What the CI system provides: the spec checkout, event, secrets, variables and a PATH."""

    checkout: Path  # the spec repository at the pushed commit
    work: Path  # where job workspaces are created
    secrets: dict[str, str]
    variables: dict[str, str]
    path: str
    event: str = "push"
    branch: str = "main"
    protected: frozenset[str] = frozenset()  # environments with required reviewers
    extra_env: dict[str, str] = field(default_factory=dict)
    local_actions: dict[str, Path] = field(default_factory=dict)  # `uses:` value -> directory with action.yml
    results: dict[str, JobResult] = field(default_factory=dict)

    def _workspace(self, job: str) -> Path:
        where = Path(tempfile.mkdtemp(dir=self.work, prefix=f"{job}-")) / "checkout"
        shutil.copytree(self.checkout, where, symlinks=True)
        return where

    def _bash(self, script: str, cwd: Path, env: dict[str, str], errexit: bool,
              pipefail: bool = False) -> subprocess.CompletedProcess[str]:
        path = cwd.parent / "step.sh"
        path.write_text(script + "\n")
        flags = (["-e"] if errexit else []) + (["-o", "pipefail"] if pipefail else [])
        args = ["bash", "--noprofile", "--norc", *flags, str(path)]
        return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT,
                              stdin=subprocess.DEVNULL, check=False)

    def _base_env(self, workspace: Path) -> dict[str, str]:
        home = self.work / "home"
        home.mkdir(exist_ok=True)
        return {"PATH": self.path, "HOME": str(home), "LANG": "C.UTF-8", "CI": "true", **self.extra_env}

    # --- GitHub Actions ---------------------------------------------------------------------------

    def _github_context(self) -> dict[str, str]:
        return {"event_name": self.event, "ref": f"refs/heads/{self.branch}", "run_id": "4242",
                "run_attempt": "1", "repository_owner": "acme", "actor": "octocat"}

    def _gh_value(self, expr: str, steps: dict[str, dict[str, str]], env: dict[str, str] | None = None) -> str:
        if expr == "'${{'":
            return "${{"
        parts = expr.split(".")
        if len(parts) == 2 and parts[0] == "env" and env is not None:
            if parts[1] not in env:
                raise Refused(f"{expr}: the job has no such variable")
            return env[parts[1]]
        github = self._github_context()
        if len(parts) == 4 and parts[0] == "needs" and parts[2] == "outputs":
            result = self.results.get(parts[1])
            if result is None or result.status != "success":
                raise Refused(f"{expr}: job {parts[1]} did not succeed")
            return result.outputs.get(parts[3], "")
        if len(parts) == 2 and parts[0] == "secrets" and parts[1] in self.secrets:
            return self.secrets[parts[1]]
        if len(parts) == 2 and parts[0] == "vars" and parts[1] in self.variables:
            return self.variables[parts[1]]
        if len(parts) == 2 and parts[0] == "github" and parts[1] in github:
            return github[parts[1]]
        if len(parts) == 4 and parts[0] == "steps" and parts[2] == "outputs":
            return steps.get(parts[1], {}).get(parts[3], "")
        raise Refused(f"expression not modelled: ${{{{ {expr} }}}}")

    def gh_resolve(self, text: str, steps: dict[str, dict[str, str]] | None = None,
                   env: dict[str, str] | None = None) -> str:
        return _EXPR.sub(lambda m: self._gh_value(m.group(1), steps or {}, env), text)

    def gh_condition(self, expr: str) -> bool:
        expr = expr.strip()
        if expr == "always()":
            return True
        github = self._github_context()
        verdict = True
        for term in expr.split("&&"):
            match = _TERM.match(term.strip())
            if not match or match.group(1).split(".")[1] not in github:
                raise Refused(f"condition not modelled: {expr}")
            value = github[match.group(1).split(".")[1]]
            verdict &= (value == match.group(3)) if match.group(2) == "==" else (value != match.group(3))
        return verdict

    def run_github(self, doc: dict[str, Any], approve: frozenset[str] = frozenset(),
                   only: tuple[str, ...] | None = None) -> dict[str, JobResult]:
        """Run the workflow's jobs in order (jobs already finished are kept); `only` limits which run."""
        on = doc.get("on") or doc.get(True)  # PyYAML reads `on:` as True
        if self.event not in on:
            raise Refused(f"the workflow does not run on {self.event}")
        for name, job in doc["jobs"].items():
            if name in self.results and self.results[name].status != "waiting":
                continue
            if only is not None and name not in only:
                continue
            needs = job.get("needs", [])
            if any(self.results.get(n, JobResult("skipped")).status != "success" for n in needs):
                self.results[name] = JobResult("skipped")
                continue
            if "if" in job and not self.gh_condition(job["if"]):
                self.results[name] = JobResult("skipped")
                continue
            environment = (job.get("environment") or {}).get("name")
            if environment in self.protected and environment not in approve:
                self.results[name] = JobResult("waiting")
                continue
            self.results[name] = self._github_job(name, job, doc)
        return self.results

    def _github_job(self, name: str, job: dict[str, Any], doc: dict[str, Any]) -> JobResult:
        workspace = self._workspace(name)
        env = self._base_env(workspace)
        env.update({"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace), "GITHUB_JOB": name,
                    "GITHUB_EVENT_NAME": self.event, "GITHUB_REF": f"refs/heads/{self.branch}",
                    "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1", "RUNNER_TEMP": str(self.work / "tmp")})
        (self.work / "tmp").mkdir(exist_ok=True)
        env.update({k: self.gh_resolve(str(v)) for k, v in (doc.get("env") or {}).items()})
        env.update({k: self.gh_resolve(str(v)) for k, v in (job.get("env") or {}).items()})
        steps: dict[str, dict[str, str]] = {}
        log: list[str] = []
        for index, step in enumerate(job["steps"]):
            if "if" in step and not self.gh_condition(step["if"]):
                continue
            if "uses" in step and step["uses"] in self.local_actions:
                inputs = {k: self.gh_resolve(str(v), steps, env) for k, v in (step.get("with") or {}).items()}
                done_ok, text = self._composite(self.local_actions[step["uses"]], inputs, workspace, env,
                                                f"{name}-{index}")
                log.append(f"--- {name}: {step.get('name')} ({step['uses']} {inputs.get('command', '')})\n{text}")
                if not done_ok:
                    return JobResult("failure", log="\n".join(log))
                continue
            if "uses" in step:
                action = step["uses"].split("@")[0]
                if action in ("actions/checkout", "actions/setup-python"):
                    continue  # the workspace is the checkout; the shims' python is the interpreter
                if action == "actions/upload-artifact":
                    if not (workspace / step["with"]["path"]).exists():
                        return JobResult("failure", log="\n".join([*log, f"artifact {step['with']['path']} missing"]))
                    continue
                raise Refused(f"action not modelled: {step['uses']}")
            files = {k: self.work / "tmp" / f"{name}-{index}-{k}" for k in ("GITHUB_ENV", "GITHUB_OUTPUT")}
            for path in files.values():
                path.write_text("")
            step_env = {**env, **{k: str(v) for k, v in files.items()}}
            done = self._bash(self.gh_resolve(step["run"], steps), workspace, step_env, errexit=True)
            log.append(f"--- {name}: {step.get('name')} (exit {done.returncode})\n{done.stdout}{done.stderr}")
            if done.returncode != 0:
                return JobResult("failure", log="\n".join(log))
            env.update(_key_values(files["GITHUB_ENV"].read_text()))
            if "id" in step:
                steps[step["id"]] = _key_values(files["GITHUB_OUTPUT"].read_text())
        outputs = {k: self.gh_resolve(str(v), steps) for k, v in (job.get("outputs") or {}).items()}
        return JobResult("success", outputs, "\n".join(log))

    def _composite(self, directory: Path, given: dict[str, str], workspace: Path, env: dict[str, str],
                   prefix: str) -> tuple[bool, str]:
        """Run a composite action's steps; `env` (the job's) takes what they write to $GITHUB_ENV."""
        action = yaml.safe_load((directory / "action.yml").read_text())
        if action["runs"]["using"] != "composite":
            raise Refused(f"{directory}: only composite actions are modelled")
        declared = action.get("inputs") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise Refused(f"inputs the action does not declare: {sorted(unknown)}")
        github = {**self._github_context(), "action_path": str(directory),
                  "token": self.secrets.get("GITHUB_TOKEN", ""),
                  "base_ref": "main" if self.event == "pull_request" else ""}
        context = {f"github.{k}": v for k, v in github.items()}
        # Input defaults may be expressions (`${{ github.token }}`): evaluated like any other.
        inputs = {k: _EXPR.sub(lambda m: _lookup(context, m.group(1)), str(v.get("default", "")))
                  for k, v in declared.items()}
        inputs.update(given)
        context.update({f"inputs.{k}": v for k, v in inputs.items()})
        log: list[str] = []
        for index, step in enumerate(action["runs"]["steps"]):
            if "if" in step and not _action_condition(step["if"], context):
                continue
            if "uses" in step:
                if step["uses"].split("@")[0] != "actions/setup-python":
                    raise Refused(f"action not modelled inside {directory}: {step['uses']}")
                continue  # the shims' python is the interpreter
            if step.get("shell") != "bash":
                raise Refused(f"composite step {step.get('name')} without `shell: bash`")
            files = {k: self.work / "tmp" / f"{prefix}-a{index}-{k}" for k in ("GITHUB_ENV", "GITHUB_OUTPUT")}
            for path in files.values():
                path.write_text("")
            step_env = {**env, **{k: str(v) for k, v in files.items()}}
            step_env.update({k: _EXPR.sub(lambda m: _lookup(context, m.group(1)), str(v))
                             for k, v in (step.get("env") or {}).items()})
            if "${{" in step["run"]:
                raise Refused(f"composite step {step.get('name')} has an expression inside its script")
            done = self._bash(step["run"], workspace, step_env, errexit=True, pipefail=True)
            log.append(f"  - {step.get('name')} (exit {done.returncode})\n{done.stdout}{done.stderr}")
            if done.returncode != 0:
                return False, "\n".join(log)
            env.update(_key_values(files["GITHUB_ENV"].read_text()))
            if "id" in step:
                for key, value in _key_values(files["GITHUB_OUTPUT"].read_text()).items():
                    context[f"steps.{step['id']}.outputs.{key}"] = value
        return True, "\n".join(log)

    # --- GitLab CI --------------------------------------------------------------------------------

    def _gitlab_builtins(self) -> dict[str, str]:
        source = {"push": "push", "schedule": "schedule", "pull_request": "merge_request_event"}[self.event]
        out = {"CI_PIPELINE_SOURCE": source, "CI_PIPELINE_ID": "777", "CI_JOB_ID": "778",
               "CI_REGISTRY_IMAGE": "registry.example.test/acme/specs", "CI_REGISTRY_USER": "gitlab-ci-token",
               "CI_REGISTRY_PASSWORD": "registry-token"}
        if self.event != "pull_request":
            out["CI_COMMIT_BRANCH"] = self.branch
        return out

    def gl_condition(self, expr: str) -> bool:
        builtins = self._gitlab_builtins()
        verdict = True
        for term in expr.split("&&"):
            match = _GL_TERM.match(term.strip())
            if not match:
                raise Refused(f"rule not modelled: {expr}")
            value = builtins.get(match.group(1), "")
            verdict &= (value == match.group(3)) if match.group(2) == "==" else (value != match.group(3))
        return verdict

    def _gl_variable(self, value: Any, known: dict[str, str]) -> str:
        if isinstance(value, dict):
            if value.get("expand") is not False or set(value) != {"value", "expand"}:
                raise Refused(f"variable form not modelled: {value}")
            return str(value["value"])
        return _GL_VAR.sub(lambda m: known.get(m.group(1), ""), str(value))

    def run_gitlab(self, doc: dict[str, Any], approve: frozenset[str] = frozenset()) -> dict[str, JobResult]:
        builtins = self._gitlab_builtins()
        if not any("if" in rule and self.gl_condition(rule["if"]) for rule in doc["workflow"]["rules"]):
            raise Refused("the pipeline's workflow rules do not run it")
        jobs = {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v}
        for stage in doc["stages"]:
            for name, job in jobs.items():
                if job["stage"] != stage or (name in self.results and self.results[name].status != "waiting"):
                    continue
                needs = [n["job"] for n in job.get("needs", [])]
                if any(self.results.get(n, JobResult("skipped")).status != "success" for n in needs):
                    self.results[name] = JobResult("skipped")
                    continue
                rule = next((r for r in job.get("rules", [{}]) if "if" not in r or self.gl_condition(r["if"])), None)
                if rule is None:
                    self.results[name] = JobResult("skipped")
                    continue
                if rule.get("when") == "manual" and name not in approve:
                    self.results[name] = JobResult("waiting")
                    continue
                self.results[name] = self._gitlab_job(name, job, doc, needs, builtins)
        return self.results

    def _gitlab_job(self, name: str, job: dict[str, Any], doc: dict[str, Any], needs: list[str],
                    builtins: dict[str, str]) -> JobResult:
        workspace = self._workspace(name)
        env = {**self._base_env(workspace), "GITLAB_CI": "true", **builtins, **self.secrets, **self.variables}
        for key, value in {**(doc.get("variables") or {}), **(job.get("variables") or {})}.items():
            env[key] = self._gl_variable(value, env)
        for need in needs:  # dotenv reports of the jobs this one needs
            env.update(self.results[need].outputs)
        # GitLab runs the script lines in one shell that stops at the first failing line.
        done = self._bash("\n".join(job["script"]), workspace, env, errexit=True)
        log = f"--- {name} (exit {done.returncode})\n{done.stdout}{done.stderr}"
        if done.returncode != 0:
            return JobResult("failure", log=log)
        dotenv = (job.get("artifacts") or {}).get("reports", {}).get("dotenv")
        outputs = _key_values((workspace / dotenv).read_text()) if dotenv else {}
        return JobResult("success", outputs, log)


def _lookup(context: dict[str, str], expr: str) -> str:
    if expr not in context and not expr.startswith("steps."):
        raise Refused(f"expression not modelled in the action: ${{{{ {expr} }}}}")
    return context.get(expr, "")  # an output a skipped step never wrote is empty, as on GitHub


def _action_condition(expr: str, context: dict[str, str]) -> bool:
    """`a == 'x' && b != ''` terms joined by `&&`, groups joined by `||` (&& binds tighter)."""
    verdict = False
    for group in expr.split("||"):
        ok = True
        for term in group.split("&&"):
            match = _ACTION_TERM.match(term.strip())
            if not match:
                raise Refused(f"condition not modelled: {expr}")
            value = _lookup(context, match.group(1))
            ok &= (value == match.group(3)) if match.group(2) == "==" else (value != match.group(3))
        verdict |= ok
    return verdict


def _key_values(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


def write_shim(directory: Path, name: str, body: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(0o755)


def env_path(shims: Path) -> str:
    return os.pathsep.join([str(shims), "/usr/local/bin", "/usr/bin", "/bin"])
