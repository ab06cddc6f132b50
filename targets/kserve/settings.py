"""`targets.kserve` in mlspec.yaml: which KServe the output is written for, and how traffic is mirrored.

Every field has a default so the target works without a project file. `Standard` is the default mode:
on KServe >= 0.20 it expresses a canary with `spec.canary[]`, which names both model versions in git,
and it needs neither Knative nor Istio on the cluster. `Knative` mode keeps the older split, where the
"previous" side of a canary is whatever revision the cluster last rolled out (cluster state).
"""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from compiler.language.spec import WebUrl  # the payload logger is an http(s) sink (MLS241)

_VERSION = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# KServe's domainTemplate is a Go template over the object; these are the fields it is documented with.
_PLACEHOLDER = re.compile(r"\{\{\s*\.(Name|Namespace|IngressDomain)\s*\}\}")
DEFAULT_DOMAIN_TEMPLATE = "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Gateway(_Frozen):
    """The ingress gateway the mirroring route attaches to (Istio `Gateway` or Gateway API `Gateway`)."""

    name: str = Field("kserve-ingress-gateway", description="Gateway name.")
    namespace: str = Field("kserve", description="Namespace of the gateway.")

    @field_validator("name", "namespace")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _DNS_LABEL.fullmatch(value) or len(value) > 63:
            raise ValueError(f"{value!r} is not a DNS-1123 label")
        return value


class KServeSettings(_Frozen):
    version: str = Field("0.20", description="KServe version of the cluster, major.minor[.patch].")
    mode: Literal["Standard", "Knative"] = Field(
        "Standard", description="serving.kserve.io/deploymentMode written on every InferenceService.")
    mirroring: Literal["istio", "gateway-api"] = Field(
        "istio", description="How shadow traffic is mirrored: Istio VirtualService or Gateway API HTTPRoute.")
    gateway: Gateway = Gateway()
    domain: str = Field("example.com", description="KServe's ingressDomain (its inferenceservice-config).")
    domainTemplate: str = Field(
        DEFAULT_DOMAIN_TEMPLATE,
        description="KServe's domainTemplate: the host an InferenceService is reached at, and the host the "
                    "shadow stage mirrors. Placeholders: {{ .Name }}, {{ .Namespace }}, {{ .IngressDomain }}.")
    storageSecret: str | None = Field(
        None, description="Secret with storage credentials, referenced by name; default <model>-storage.")
    loggerUrl: WebUrl = Field(
        "http://payload-logger.kserve.svc.cluster.local",
        description="Sink for payload logging (CloudEvents over HTTP).")
    loggerMode: Literal["all", "request", "response"] = "all"

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.fullmatch(value):
            raise ValueError(f"{value!r} is not a version such as 0.20 or 0.19.2")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not _DOMAIN.fullmatch(value) or len(value) > 253:
            raise ValueError(f"{value!r} is not a DNS domain")
        return value

    @field_validator("domainTemplate")
    @classmethod
    def _domain_template(cls, value: str) -> str:
        rest = _PLACEHOLDER.sub("x", value)
        if "{{" in rest or "}}" in rest:
            raise ValueError(f"{value!r} uses a placeholder other than {{{{ .Name }}}}, {{{{ .Namespace }}}}, "
                             "{{ .IngressDomain }}")
        if not _DOMAIN.fullmatch(rest) or "." not in rest:
            raise ValueError(f"{value!r} does not make a DNS name such as {DEFAULT_DOMAIN_TEMPLATE}")
        return value

    @field_validator("storageSecret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and (not _DNS_LABEL.fullmatch(value) or len(value) > 253):
            raise ValueError(f"{value!r} is not a valid Secret name")
        return value

    @property
    def version_tuple(self) -> tuple[int, int]:
        major, minor = self.version.split(".")[:2]
        return int(major), int(minor)

    @property
    def spec_canary(self) -> bool:
        """Whether the cluster understands `spec.canary[]` (KServe >= 0.20)."""
        return self.version_tuple >= (0, 20)

    def host(self, name: str, namespace: str) -> str:
        """The host KServe gives InferenceService `name` in `namespace`: its domainTemplate filled in."""
        fields = {"Name": name, "Namespace": namespace, "IngressDomain": self.domain}
        return _PLACEHOLDER.sub(lambda m: fields[m.group(1)], self.domainTemplate)

    def for_model(self, overrides: tuple[tuple[str, str], ...]) -> "KServeSettings":
        """These settings with one model's `serving.kserve` choices (version, mode, mirroring) in place.

        The spec validates those values with the same rules as the fields here (version pattern, the
        same Literals), so a copy without re-validation cannot hold a value these settings refuse."""
        if not overrides:
            return self
        return self.model_copy(update=dict(overrides))

    def secret_name(self, model: str) -> str:
        return self.storageSecret or f"{model}-storage"
