"""Identities of rendered Kubernetes objects, taken from the data before it is serialized."""

from __future__ import annotations

from typing import Any


def identities(documents: Any) -> list[dict[str, str]]:
    """Kubernetes identities (apiVersion, kind, namespace, name) of rendered YAML documents."""
    found = []
    for doc in documents:
        if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
            meta = doc.get("metadata") or {}
            ident = {"apiVersion": str(doc["apiVersion"]), "kind": str(doc["kind"]), "name": str(meta.get("name", ""))}
            if meta.get("namespace"):
                ident["namespace"] = str(meta["namespace"])
            found.append(ident)
    return found
