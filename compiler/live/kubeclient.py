"""A kubernetes client configured the way kubectl finds a cluster, imported only when used (~0.25 s).

$KUBECONFIG (colon-separated files, merged) or ~/.kube/config, with `--context` or the current
context; without any kubeconfig, the in-cluster service account (a CronJob or CI pod).
"""

from __future__ import annotations

import os
from typing import Any


class KubeError(Exception):
    """No usable cluster configuration, or the API server refused or could not be reached."""


def api_client(context: str | None = None) -> Any:
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    files = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    default = os.path.expanduser("~/.kube/config")
    if files or os.path.exists(default) or context:
        try:
            configuration = client.Configuration()
            # Named explicitly: the client reads $KUBECONFIG once, at import, not at each call.
            config.load_kube_config(config_file=os.pathsep.join(files) or default, context=context,
                                    client_configuration=configuration)
        except (ConfigException, OSError, ValueError, TypeError) as exc:
            raise KubeError(f"kubeconfig ({os.pathsep.join(files) or default}): {exc}") from exc
    else:
        try:
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise KubeError(f"no kubeconfig ({default}, $KUBECONFIG) and not running in a cluster: {exc}") from exc
    configuration.retries = 0  # one attempt: a rollout or a drift check must not hang on a dead endpoint
    return client.ApiClient(configuration)


def describe(exc: BaseException) -> str:
    """One line for an API or transport error, without response bodies (they can echo request data)."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}".strip()
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
