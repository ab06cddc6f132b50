"""The commented starter spec written by `mlspec init`."""

from __future__ import annotations

# The `yaml-language-server` modeline is prepended by `mlspec init`, relative to where the file goes.
_TEMPLATE = """\
# A starter spec: replace every example value, then run `mlspec lint`.
apiVersion: mlspec/v1
kind: Model
metadata:
  name: {name}
  team: {team}
  risk: limited            # minimal | limited | high (high adds approval, on-call, gates, canary)
  description: What the model predicts, for whom, and why.
owners:
  - name: Model owner
    email: owner@example.com
    roles: [owner, approver]
  - name: On-call
    email: oncall@example.com
    roles: [oncall]
modelCard:
  intendedUse: Who may use the predictions, and for what decision.
  limitations: Populations and situations the model was not validated for.
data:
  dataset: {name}-training
  version: "2026.1.0"
  dvc:                     # or file: {{uri: s3://..., sha256: <64 hex>}}
    path: data/{name}.csv
    md5: 0123456789abcdef0123456789abcdef   # from the .dvc file
  features:
    - {{name: example_feature, type: float, min: 0}}
model:
  framework: sklearn       # sklearn | xgboost | lightgbm | pytorch | tensorflow | onnx | huggingface | custom
  version: "1"             # the registry's immutable version, never `latest`
  uri: s3://models/{name}/1
  code:
    repo: https://github.com/example/{name}
    commit: 0123456789abcdef0123456789abcdef01234567
pipeline:
  image: ghcr.io/example/{name}-train:1
  schedule: "0 3 * * 1"    # five-field cron, UTC
  steps:
    - {{name: validate-data, command: [python, -m, {module}.validate]}}
    - {{name: train, command: [python, -m, {module}.train], after: [validate-data]}}
    - {{name: evaluate, command: [python, -m, {module}.evaluate], after: [train], metrics: [accuracy]}}
gates:
  - {{metric: accuracy, min: 0.8}}
serving:
  pattern: realtime        # batch | realtime | streaming | edge
  environments:
    staging: {{namespace: {team}-staging}}
    production: {{namespace: {team}-prod, replicas: {{min: 2, max: 5}}}}
rollout:
  canary: [{{traffic: 10, duration: 1h}}, {{traffic: 50, duration: 1h}}]
  advanceWhenQuiet: [latency-p95, error-rate]
  rollbackOn: [error-rate]
monitors:
  - {{name: latency-p95, kind: latency, quantile: 0.95, threshold: 250ms}}   # a bucket bound of the server
  # KServe's model server counts no failures: the predictor exports ml_inference_errors_total (docs/metrics.md)
  - {{name: error-rate, kind: error_rate, threshold: 1%, failures: exporter}}
  - {{name: feature-drift, kind: data_drift, threshold: 0.2}}
"""


def starter_spec(name: str, team: str) -> str:
    return _TEMPLATE.format(name=name, team=team, module=name.replace("-", "_"))
