"""One module per monitor family, each exporting a rule builder per monitor kind it serves.

A builder takes the shared context (targets.prometheus.context), the group the monitor's rules go
to and the monitor as applied to the environment, and adds recording rules and alerts, every alert
with the promtool scenarios that prove it. targets.prometheus.rules.KINDS maps each monitor kind of
the spec language to its builder; the batch exporters' staleness alerts (staleness.py) follow the
families that read batch-exported series.
"""
