"""Resource identities and the header every report uses for them: `namespace, name, Kind (group)`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def group_of(api_version: str) -> str:
    """`serving.kserve.io/v1beta1` -> `serving.kserve.io`; the core group (`v1`) stays `v1`."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else api_version


def header(ident: Mapping[str, Any]) -> str:
    """helm-diff's resource header; cluster-scoped objects show an empty namespace."""
    return f"{ident.get('namespace', '')}, {ident.get('name', '')}, {ident.get('kind', '')} " \
           f"({group_of(str(ident.get('apiVersion', '')))})"


def is_resource(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str)


def identity(doc: Mapping[str, Any]) -> dict[str, str]:
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    ident = {"apiVersion": str(doc["apiVersion"]), "kind": str(doc["kind"]), "name": str(meta.get("name", ""))}
    if meta.get("namespace"):
        ident["namespace"] = str(meta["namespace"])
    return ident
