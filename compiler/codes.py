"""The catalogue of diagnostic codes. Codes are stable: never reuse or renumber one.

`docs/codes.md` is generated from this table (and each installed target's `codes`); a test keeps
it current.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    # Loading: the file as YAML.
    "MLS001": "The file does not exist or is larger than the size limit (1 MiB).",
    "MLS002": "The file is not UTF-8 text.",
    "MLS003": "YAML syntax error.",
    "MLS004": "A tab character is used for indentation; YAML indents with spaces.",
    "MLS005": "A key appears twice in one mapping.",
    "MLS006": "A YAML tag is used; specs are plain data and tags that construct objects are refused.",
    "MLS007": "Too many alias uses or too large an expansion (billion-laughs protection).",
    "MLS008": "The document nests deeper than the limit.",
    "MLS009": "More than one YAML document in a file.",
    "MLS010": "The file is empty or its top level is not a mapping.",
    "MLS011": "Unknown `apiVersion`.",
    "MLS012": "Unknown `kind`.",
    "MLS013": "YAML merge keys (`<<`) are not supported.",
    "MLS014": "The file or directory cannot be read (permission denied, I/O error): the environment, exit 2.",
    "MLS015": "Two spec files are recorded under one spec path (specs outside the project root are recorded by "
              "file name).",
    # Schema: shape and values.
    "MLS101": "Unknown key (with a did-you-mean hint).",
    "MLS102": "A required key is missing.",
    "MLS103": "A value has the wrong type.",
    "MLS104": "A value is not one of the allowed choices (with a did-you-mean hint).",
    "MLS105": "A value is out of range or badly formed.",
    # Semantic rules.
    "MLS201": "A name is used twice (steps, monitors, features, gates, owners).",
    "MLS202": "A reference names something that does not exist.",
    "MLS203": "Pipeline steps depend on each other in a cycle.",
    "MLS204": "Canary traffic must increase strictly at each step and stay below 100%.",
    "MLS205": "Invalid duration.",
    "MLS206": "Invalid cron schedule (five fields: minute hour day-of-month month day-of-week).",
    "MLS207": "A gate's direction does not fit its metric, or a gate has no threshold.",
    "MLS208": "Risk tier `unacceptable`: prohibited practices are refused (EU AI Act Art. 5).",
    "MLS210": "High risk: an owner with the `approver` role is required.",
    "MLS211": "High risk: an owner with the `oncall` role is required.",
    "MLS212": "High risk: the model card needs `intendedUse` and `limitations`.",
    "MLS213": "High risk: at least one evaluation gate is required.",
    "MLS214": "High risk: the rollout needs a shadow or a canary stage.",
    "MLS215": "High risk: production needs manual approval (human oversight, Art. 14).",
    "MLS216": "High risk: payload logging cannot be turned off (record keeping, Art. 12).",
    "MLS220": "The team may not deploy to this namespace (mlspec.yaml `teams`).",
    "MLS221": "An image is not pinned: `latest` or no tag at all.",
    "MLS222": "A pin is malformed (md5, sha256 or git commit).",
    "MLS223": "A name is not a DNS-1123 label.",
    "MLS224": "The model version or URI is a movable alias, not an immutable version.",
    "MLS225": "A secret is written in the spec (a token, credentials in a URL, a secret env var or flag); "
              "use a `secretRef`.",
    "MLS226": "The environment is not one of the environments in mlspec.yaml.",
    "MLS227": "The image's registry is not allowed by mlspec.yaml.",
    "MLS230": "The serving pattern needs its section (`stream`, `batch` or `edge`).",
    "MLS231": "A section does not apply to the serving pattern.",
    "MLS232": "A minimum is larger than its maximum.",
    "MLS233": "A monitor lacks a field its kind needs.",
    "MLS234": "A critical monitor needs a runbook URL (or `defaults.runbookBase` in mlspec.yaml).",
    "MLS235": "Data needs exactly one pin: `dvc` or `file`.",
    "MLS236": "An environment variable is defined twice in one step, or a step has no command.",
    "MLS240": "A value contains a control character (newline, tab, NUL, CR, a bidirectional override) where "
              "only one line of text belongs.",
    "MLS241": "A URL has a scheme that is not allowed (runbooks: http(s); repositories: http(s) or ssh).",
    "MLS242": "A value that becomes a Kubernetes label key or value is not a valid one.",
    "MLS243": "Warning: a monitor window or rollout gate window is shorter than two scrape intervals "
              "(mlspec.yaml `scrapeInterval`, default 1m), so it never sees data.",
    "MLS260": "An hf:// model URI is not pinned to a commit in KServe's form hf://<owner>/<model>:<40-hex commit>.",
    # Streaming and the cluster (`render --out -`, `drift --cluster`, sync requests).
    "MLS290": "`render --out -` found no kustomization to follow (is the gitops target disabled?).",
    "MLS291": "`render --out - --app NAME` names no Argo CD Application or Flux Kustomization in the render.",
    "MLS292": "A rendered kustomization uses a feature `render --out -` does not apply; use `kustomize build`.",
    "MLS293": "`drift --cluster`: no usable kubeconfig or in-cluster configuration, or the cluster is unreachable.",
    "MLS294": "`drift --cluster`: the API server refused or failed a read (RBAC: get and list on the rendered kinds).",
    "MLS295": "`drift --cluster --env E`: no app renders environment E.",
    # Warnings.
    "MLS301": "Rollout without `model.previous`: there is nothing to roll back to.",
    "MLS302": "A served model has no monitors.",
    "MLS303": "Retraining on drift is on, but no monitor has `retrain: true`.",
    # LLM serving and cost (spec values).
    "MLS710": "A token_cost monitor's maxPerDay is smaller than its per-request threshold.",
    # Project configuration (mlspec.yaml).
    "MLS401": "mlspec.yaml names a target that is not installed.",
    "MLS402": "mlspec.yaml: unknown `apiVersion` or `kind`.",
    "MLS620": "mlspec.yaml: a target setting uses the old snake_case spelling; keys are camelCase (warning).",
    # Targets and internal.
    "MLS501": "A target failed to load (broken plugin).",
    "MLS502": "Two targets write the same output path.",
    "MLS503": "A target produced an unsafe output path.",
    "MLS504": "A target failed while rendering (a bug in the target; please report it).",
    # Declared patches (`patches:`, docs/patches.md).
    "MLS730": "A patch needs exactly one of `merge:` (strategic merge) and `json:` (RFC 6902).",
    "MLS731": "A patch touches a field mlspec's guarantees depend on (identity, `mlspec.dev/*` provenance, "
              "the rollout stage selection).",
    "MLS732": "A JSON-patch operation is malformed (not a JSON pointer, `value` or `from` missing).",
    "MLS733": "A strategic-merge directive mlspec does not apply (only null, `$patch: replace|delete|merge`).",
    "MLS734": "A patch targets an environment the model does not declare.",
    "MLS735": "A patch targets an object that is not rendered: it no longer applies.",
    "MLS736": "A patch no longer applies to its object (a JSON-patch `test` or path fails, a type differs).",
    "MLS737": "A patch targets a kind nothing renders for the model (its target disabled, or a misspelt kind) "
              "(warning).",
    "MLS738": "A project patch (mlspec.yaml) matches no rendered object of any model: it is applied nowhere "
              "(warning).",
}
