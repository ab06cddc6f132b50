"""A minimal Prometheus HTTP API client over urllib: instant queries (now or at a past instant) and the
rules API, nothing else. A client library would be a dependency for ~60 lines.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from compiler.errors import EnvironmentFault

DEFAULT_TIMEOUT = 10.0


class PrometheusError(EnvironmentFault):
    """Prometheus could not be asked or did not answer a query; the message says which."""


@dataclass(frozen=True, slots=True)
class Sample:
    labels: dict[str, str]
    value: float

    def to_data(self) -> dict[str, Any]:
        value: float | str = self.value if math.isfinite(self.value) else str(self.value)
        return {"labels": dict(sorted(self.labels.items())), "value": value}


def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PrometheusError(f"{url!r} is not an http(s) URL of a Prometheus server")
    return url.rstrip("/")


def query(base_url: str, expr: str, timeout: float = DEFAULT_TIMEOUT, at: float | None = None) -> list[Sample]:
    """The instant vector `expr` evaluates to now (or at unix time `at`). A scalar becomes one sample."""
    params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
    data = _call(base_url, "/api/v1/query", params, expr, timeout)
    return _samples(data, check_url(base_url) + "/api/v1/query")


def rules(base_url: str, timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
    """The alerting rule groups Prometheus has loaded (`/api/v1/rules?type=alert`), as it reports them."""
    data = _call(base_url, "/api/v1/rules", {"type": "alert"}, "the rules API", timeout, method="GET")
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise PrometheusError(f"{check_url(base_url)}/api/v1/rules: answer has no rule groups")
    return groups


def _call(base_url: str, path: str, params: dict[str, str], what: str, timeout: float, method: str = "POST") -> Any:
    """Send `params` to an API endpoint (the query API takes POST, the rules API only GET); its `data`."""
    url = check_url(base_url) + path
    encoded = urllib.parse.urlencode(params)
    if method == "GET":
        request = urllib.request.Request(f"{url}?{encoded}", method="GET", headers={"Accept": "application/json"})
    else:
        request = urllib.request.Request(url, data=encoded.encode(), method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # check_url allowed only http(s)
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = _error_text(exc.read())
        raise PrometheusError(f"{url}: HTTP {exc.code}{': ' + detail if detail else ''} for {what}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PrometheusError(f"cannot reach Prometheus at {base_url}: {reason}") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise PrometheusError(f"{url}: answer is not JSON") from exc
    if not isinstance(data, dict) or data.get("status") != "success":
        raise PrometheusError(f"{url}: query failed: {_error_text(raw) or 'no status'}: {what}")
    return data.get("data")


def _error_text(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return ""
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _samples(data: Any, url: str) -> list[Sample]:
    if not isinstance(data, dict):
        raise PrometheusError(f"{url}: answer has no data")
    kind, result = data.get("resultType"), data.get("result")
    try:
        if kind == "vector" and isinstance(result, list):
            return [Sample({str(k): str(v) for k, v in item["metric"].items()}, float(item["value"][1]))
                    for item in result]
        if kind == "scalar" and isinstance(result, list):
            return [Sample({}, float(result[1]))]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise PrometheusError(f"{url}: malformed {kind} result") from exc
    raise PrometheusError(f"{url}: expected an instant vector, got {kind}")
