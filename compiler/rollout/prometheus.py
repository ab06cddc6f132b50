"""A minimal Prometheus HTTP API client: instant queries over urllib, nothing else.

The gate needs two instant queries per check; a client library would be a dependency for ~40 lines.
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


def query(base_url: str, expr: str, timeout: float = DEFAULT_TIMEOUT) -> list[Sample]:
    """The instant vector `expr` evaluates to now. A scalar answer becomes one unlabelled sample."""
    url = check_url(base_url) + "/api/v1/query"
    body = urllib.parse.urlencode({"query": expr}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # check_url allowed only http(s)
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = _error_text(exc.read())
        raise PrometheusError(f"{url}: HTTP {exc.code}{': ' + detail if detail else ''} for {expr}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PrometheusError(f"cannot reach Prometheus at {base_url}: {reason}") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise PrometheusError(f"{url}: answer is not JSON") from exc
    if not isinstance(data, dict) or data.get("status") != "success":
        raise PrometheusError(f"{url}: query failed: {_error_text(raw) or 'no status'}: {expr}")
    return _samples(data.get("data"), url)


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
