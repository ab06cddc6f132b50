"""A stand-in for the Kubernetes API server, for the tests only: no API server can run on these machines.

It serves the real REST paths the kubernetes Python client uses (discovery `/version`, `/api`, `/api/v1`,
`/apis`, `/apis/<group>/<version>`; GET, LIST with `labelSelector` and PATCH of namespaced objects) with
bodies shaped like the API server's (`V1APIVersions`, `V1APIGroupList`, `V1APIResourceList`, `V1Status`,
`<Kind>List`; field names taken from the client's models). Objects put into it get what the server
adds: uid, resourceVersion, creationTimestamp, generation, managedFields and a status, plus any
defaults the test passes. It records every request so tests can assert what the client sent and when.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# (group, version, kind, plural): the kinds mlspec renders and the engines' own.
RESOURCES = [
    ("", "v1", "ServiceAccount", "serviceaccounts"),
    ("", "v1", "ConfigMap", "configmaps"),
    ("", "v1", "Secret", "secrets"),
    ("batch", "v1", "CronJob", "cronjobs"),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    ("serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices"),
    ("serving.kserve.io", "v1alpha2", "LLMInferenceService", "llminferenceservices"),
    ("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules"),
    ("networking.istio.io", "v1", "VirtualService", "virtualservices"),
    ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
    ("sources.knative.dev", "v1beta1", "KafkaSource", "kafkasources"),
    ("argoproj.io", "v1alpha1", "Application", "applications"),
    ("argoproj.io", "v1alpha1", "AppProject", "appprojects"),
    ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations"),
    ("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories"),
]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() when it arrived


@dataclass
class FakeKube:
    objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)  # (group, plural, ns, name)
    requests: list[Request] = field(default_factory=list)
    token: str = "test-token"
    fail_patch: int | None = None  # answer every PATCH with this status code
    _server: ThreadingHTTPServer | None = None
    _version: int = 1000

    # --- objects -----------------------------------------------------------------------------------

    @staticmethod
    def resource(api_version: str, kind: str) -> tuple[str, str, str, str]:
        group, _, version = api_version.rpartition("/")
        for res in RESOURCES:
            if (res[0], res[1], res[2]) == (group, version, kind):
                return res
        raise KeyError((api_version, kind))

    def put(self, obj: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Store `obj` as the server would after an apply: server fields added, `defaults` merged under it."""
        live = _merge(copy.deepcopy(dict(defaults or {})), copy.deepcopy(dict(obj)))
        group, _, _, plural = self.resource(live["apiVersion"], live["kind"])
        meta = live["metadata"]
        self._version += 1
        meta.update({"uid": str(uuid.uuid4()), "resourceVersion": str(self._version),
                     "creationTimestamp": "2026-11-29T18:00:00Z", "generation": 1,
                     "managedFields": [{"manager": "argocd-controller", "operation": "Apply",
                                        "apiVersion": live["apiVersion"], "time": "2026-11-29T18:00:00Z",
                                        "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}}]})
        live.setdefault("status", {"observedGeneration": 1})
        self.objects[(group, plural, meta.get("namespace", ""), meta["name"])] = live
        return live

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        group, _, _, plural = self.resource(api_version, kind)
        return self.objects.get((group, plural, namespace, name))

    # --- server ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeKube:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def kubeconfig(self, path: Path, *, context: str = "fake", extra: Mapping[str, str] | None = None) -> Path:
        """A kubeconfig whose context `context` points here (plus `extra` name -> server URL contexts)."""
        servers = {context: self.url, **(extra or {})}
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": context, "preferences": {},
            "clusters": [{"name": n, "cluster": {"server": u}} for n, u in servers.items()],
            "users": [{"name": "tester", "user": {"token": self.token}}],
            "contexts": [{"name": n, "context": {"cluster": n, "user": "tester"}} for n in servers],
        }
        path.write_text(json.dumps(config))
        return path

    def _send(self, handler: BaseHTTPRequestHandler, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _status(self, handler: BaseHTTPRequestHandler, code: int, reason: str, message: str,
                details: Mapping[str, Any] | None = None) -> None:
        self._send(handler, code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                   "message": message, "reason": reason, "details": dict(details or {}),
                                   "code": code})

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        self.requests.append(Request(method, parsed.path, urllib.parse.parse_qs(parsed.query),
                                     {k.lower(): v for k, v in handler.headers.items()}, body, time.monotonic()))
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            self._status(handler, 401, "Unauthorized", "Unauthorized")
            return
        parts = [p for p in parsed.path.split("/") if p]
        query = urllib.parse.parse_qs(parsed.query)
        if method == "GET" and self._discovery(handler, parts):
            return
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            self._status(handler, 404, "NotFound", "the server could not find the requested resource")
            return
        namespace = ""
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        known = {r[3]: r for r in RESOURCES if (r[0], r[1]) == (group, version)}
        if not rest or rest[0] not in known:
            self._status(handler, 404, "NotFound", "the server could not find the requested resource")
            return
        res = known[rest[0]]
        if len(rest) == 1 and method == "GET":
            self._send(handler, 200, self._list(res, namespace, query.get("labelSelector", [""])[0]))
            return
        name = rest[1] if len(rest) > 1 else ""
        key = (group, res[3], namespace, name)
        if key not in self.objects:
            self._status(handler, 404, "NotFound", f'{res[3]}{"." + group if group else ""} "{name}" not found',
                         {"name": name, "group": group, "kind": res[3]})
            return
        if method == "GET":
            self._send(handler, 200, self.objects[key])
            return
        if self.fail_patch is not None:
            self._status(handler, self.fail_patch, "Forbidden" if self.fail_patch == 403 else "InternalError",
                         f'{res[3]} "{name}" is forbidden: the test said no')
            return
        kind = handler.headers.get("Content-Type", "")
        if kind != "application/merge-patch+json" or not isinstance(body, dict):
            self._status(handler, 415, "UnsupportedMediaType", f"the body of the request was in an unknown "
                                                                f"format - accepted media types include: "
                                                                f"application/merge-patch+json (got {kind})")
            return
        live = self.objects[key]
        _merge(live, body, delete_nulls=True)
        self._version += 1
        live["metadata"]["resourceVersion"] = str(self._version)
        self._send(handler, 200, live)

    def _list(self, res: tuple[str, str, str, str], namespace: str, selector: str) -> dict[str, Any]:
        wanted = dict(term.split("=", 1) for term in selector.split(",") if "=" in term)
        items = [o for (g, p, ns, _), o in sorted(self.objects.items())
                 if (g, p) == (res[0], res[3]) and (not namespace or ns == namespace)
                 and all((o["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]
        api = f"{res[0]}/{res[1]}" if res[0] else res[1]
        return {"kind": f"{res[2]}List", "apiVersion": api, "metadata": {"resourceVersion": str(self._version)},
                "items": items}

    def _discovery(self, handler: BaseHTTPRequestHandler, parts: list[str]) -> bool:
        if parts == ["version"]:
            self._send(handler, 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "0" * 40,
                                      "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                                      "goVersion": "go1.24.0", "compiler": "gc", "platform": "linux/amd64"})
        elif parts == ["api"]:
            host = handler.server.server_address
            self._send(handler, 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{host[0]}:{host[1]}"}]})
        elif parts == ["apis"]:
            groups: dict[str, list[str]] = {}
            for group, version, _, _ in RESOURCES:
                if group and version not in groups.setdefault(group, []):
                    groups[group].append(version)
            self._send(handler, 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                for g, vs in sorted(groups.items())]})
        elif parts in (["api", "v1"],) or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            found = [r for r in RESOURCES if (r[0], r[1]) == (group, version)]
            if not found:
                self._status(handler, 404, "NotFound", "the server could not find the requested resource")
                return True
            resources = []
            for _, _, kind, plural in found:
                resources.append({"name": plural, "singularName": kind.lower(), "namespaced": True, "kind": kind,
                                  "verbs": ALL_VERBS, "storageVersionHash": "AAAAAAAAAAA="})
                resources.append({"name": f"{plural}/status", "singularName": "", "namespaced": True,
                                  "kind": kind, "verbs": ["get", "patch", "update"]})
            self._send(handler, 200, {"kind": "APIResourceList", "apiVersion": "v1",
                                      "groupVersion": f"{group}/{version}" if group else version,
                                      "resources": resources})
        else:
            return False
        return True

    def patches(self) -> Iterator[Request]:
        return (r for r in self.requests if r.method == "PATCH")


def _merge(target: dict[str, Any], patch: Mapping[str, Any], *, delete_nulls: bool = False) -> dict[str, Any]:
    """RFC 7386 JSON merge patch (with delete_nulls), or a plain deep merge of `patch` over `target`."""
    for key, value in patch.items():
        if value is None and delete_nulls:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value, delete_nulls=delete_nulls)
        else:
            target[key] = copy.deepcopy(value)
    return target
