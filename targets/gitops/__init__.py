"""The gitops target: the deployment repository describes its own deployment.

Layout (all written by `render_repository`, after every other target, from the rendered tree):
- `<folder>/kustomization.yaml` for every folder of Kubernetes objects that has none (for example
  `models/<m>/prometheus/<env>/`, which also holds rule files and promtool tests the engine must not
  apply: only the `PrometheusRule` object is listed).
- `models/<m>/gitops/<env>/kustomization.yaml`: one app per model and environment, including that
  environment's folders of every target; `models/<m>/gitops/<target>/` for a model's environment-less
  folders (the Kubeflow schedules). With Argo CD it also adds the sync waves.
- `kustomization.yaml` at the root: every app, for `kubectl apply -k .` and engines pointed at the root.
- `gitops/argocd/` (engine `argocd`): AppProjects, Applications and a root app; `gitops/flux/` (engine
  `flux`): a GitRepository, Kustomizations and a root Kustomization.

Each model's share of the layout (its folders' missing kustomizations and its apps) is computed from its
own spec's files where that spec renders (`project_part`, targets/gitops/model_layout.py), so the files
above are joined from cached shares instead of a scan of the whole tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from compiler.diagnostics import Diagnostic, Severity
from compiler.planning.plan import Plan
from compiler.render.plugins import OutputFile, Target
from targets.gitops.settings import GitOpsSettings

CODES: dict[str, str] = {
    "OPS001": "`targets.gitops.repoURL` is not set: the Argo CD or Flux objects point at a placeholder URL.",
    "OPS002": "Two apps get the same name (`<model>-<environment>`); rename a model or an environment.",
}


class GitOpsTarget(Target):
    name = "gitops"
    description = "Argo CD or Flux objects and kustomizations that make the deployment repository applicable"
    codes = CODES
    settings_model = GitOpsSettings

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile]:
        return ()

    def file_facts(self, path: str, documents: Sequence[Any]) -> Iterable[tuple[str, Any]]:
        from targets.gitops.layout import classify_facts  # render only, like the imports below

        return classify_facts(path, documents)

    def project_part(self, plan: Plan, settings: Any, rendered: Mapping[str, bytes]) -> Any:
        from targets.gitops.model_layout import model_layout

        return model_layout(plan, rendered)

    def render_repository(self, plans: Sequence[Plan], settings: Any, rendered: Mapping[str, bytes],
                          parts: Mapping[str, Any] | None = None) -> Iterable[OutputFile | Diagnostic]:
        # Render only (a lint never gets here): imported here so a lint starts faster.
        from targets.gitops import argocd, flux
        from targets.gitops.kustomize import app_kustomization, kustomization
        from targets.gitops.layout import KUSTOMIZATION, plan_layout, scan
        from targets.gitops.model_layout import complete, layout_from_parts, policy

        config: GitOpsSettings = settings
        layout = layout_from_parts(rendered, plans, parts or {})
        shares = complete(plans, parts or {})  # the plans' names, spec paths and teams, without the plans
        # A model's apps and folders came from its share alone: its files are remembered by the share's digest.
        digests = {s.name: s.digest for s in shares or ()} if layout is not None else {}
        if layout is None:
            layout = plan_layout(scan(rendered), plans)
        settings_key = hashlib.sha256(repr(config).encode()).hexdigest()

        def key(model: str, *more: str) -> str:
            return f"{digests[model]}:{settings_key}:{':'.join(more)}" if model in digests else ""

        if shares is not None:
            spec_of = {s.name: s.spec_path for s in shares}
            teams = {team: namespaces for s in shares for team, namespaces in s.policy}
        else:
            spec_of = {p.name: p.provenance.spec_path for p in plans}
            teams = {team: namespaces for p in plans for team, namespaces in policy(p)}
        out: list[OutputFile | Diagnostic] = []
        names: dict[str, str] = {}
        unique = []
        for app in layout.apps:
            if app.name in names:
                out.append(Diagnostic("OPS002", f"app {app.name!r} comes from both {names[app.name]} and "
                                                f"{', '.join(app.bases)}", file=spec_of.get(app.model, ""),
                                      hint="rename the environment (or the model) so <model>-<environment> "
                                           "names one app"))
                continue
            names[app.name] = ", ".join(app.bases)
            unique.append(app)
        layout.apps = unique
        for folder, files in sorted(layout.missing_kustomizations.items()):
            # Every file here is project-wide (a partial render keeps it), so its header names the full
            # render as the way to regenerate it, even where only one spec's folders are listed.
            model = folder[len("models/"):].partition("/")[0] if folder.startswith("models/") else ""
            out.append(OutputFile(f"{folder}/{KUSTOMIZATION}", "yaml", [kustomization(files)],
                                  memo_key=key(model, "folder")))
        for app in layout.apps:
            doc = app_kustomization(app, waves=config.engine == "argocd")
            out.append(OutputFile(f"{app.path}/{KUSTOMIZATION}", "yaml", [doc],
                                  memo_key=key(app.model, "app", app.name)))
        out.append(OutputFile(KUSTOMIZATION, "yaml", [kustomization(a.path for a in layout.apps)]))
        if config.engine == "none":
            return out
        if not config.repoURL:
            out.append(Diagnostic("OPS001", f"targets.gitops.repoURL is not set; the {config.engine} objects "
                                            f"point at {config.repo_url}", severity=Severity.WARNING,
                                  path=("targets", "gitops", "repoURL"), file="mlspec.yaml",
                                  hint="set targets.gitops.repoURL in mlspec.yaml to the deployment "
                                       "repository's clone URL"))
        found: dict[str, list[dict[str, Any]]]
        if config.engine == "argocd":
            found = {p: [o] for p, o in argocd.objects(layout.apps, teams, config).items()}
            folder = argocd.DIR
            # An Application is a function of its app, its tenant (the team, or the platform) and the settings.
            keys = {f"{folder}/applications/{a.name}.yaml": key(a.model, "application", a.name, a.team,
                                                                str(bool(a.environment))) for a in layout.apps}
        else:
            found = flux.objects(layout.apps, teams, config)
            folder = flux.DIR
            keys = {}
        for path, docs in sorted(found.items()):
            out.append(OutputFile(path, "yaml", docs, memo_key=keys.get(path, "")))
        prefix = folder + "/"
        out.append(OutputFile(f"{folder}/{KUSTOMIZATION}", "yaml",
                              [kustomization(p[len(prefix):] for p in found)]))
        return out
