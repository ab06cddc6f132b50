"""Talking to a running system: the kubernetes client, the Prometheus HTTP API, cluster drift, the
GitOps sync trigger and `mlspec verify`. Imported only by the verbs that need it."""
