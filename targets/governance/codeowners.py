"""CODEOWNERS: who must review changes to a spec and to everything rendered from it.

The syntax both GitHub and GitLab read: one `pattern owner...` rule a line, `#` comments, the last
matching rule wins. Only the plainest subset is written: patterns are anchored paths made of
`[A-Za-z0-9._/-]` (no spaces, no glob or comment characters, whose escaping the two forges handle
differently), owners are `@user`, `@org/team` or an email. Anything else is refused, not escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from compiler.planning.plan import OwnerPlan, Plan
from compiler.render.plugins import every_part

CODE_OWNER_ROLES = ("owner", "approver")

PATTERN_RE = re.compile(r"^/?[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*/?$")
HANDLE_RE = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9_.-]+)?$")
# RFC 5322 atext without `#` (a comment leader) and without anything a forge would split on.
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!$%&'*+=?^_`{|}~/-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}$")


def is_pattern(text: str) -> bool:
    return bool(PATTERN_RE.fullmatch(text)) and ".." not in text.split("/")


def is_owner(text: str) -> bool:
    return bool(HANDLE_RE.fullmatch(text) or EMAIL_RE.fullmatch(text))


def owner_id(owner: OwnerPlan) -> str:
    """The identity CODEOWNERS uses: the GitHub handle when given, else the email."""
    return owner.github if owner.github else owner.email


def code_owners(plan: Plan) -> list[OwnerPlan]:
    """Owners and approvers; when the spec names neither, every listed owner (GOV002 warns)."""
    chosen = [o for o in plan.owners if any(r in CODE_OWNER_ROLES for r in o.roles)]
    return chosen or list(plan.owners)


def owner_tokens(owners: Iterable[OwnerPlan]) -> list[str]:
    """Valid owner tokens in spec order, without duplicates; unsafe ones are dropped (GOV003 reports)."""
    tokens = [owner_id(o) for o in owners]
    return list(dict.fromkeys(t for t in tokens if is_owner(t)))


def spec_pattern(plan: Plan, prefix: str) -> str | None:
    path = f"{prefix.strip('/')}/{plan.provenance.spec_path}" if prefix.strip("/") else plan.provenance.spec_path
    pattern = f"/{path}"
    return pattern if is_pattern(pattern) else None


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    owners: tuple[str, ...]

    def line(self) -> str:
        return " ".join((self.pattern, *self.owners))


def rules_for(plan: Plan, *, include_specs: bool, spec_prefix: str) -> list[Rule]:
    owners = tuple(owner_tokens(code_owners(plan)))
    if not owners:
        return []
    rules = []
    if include_specs:
        pattern = spec_pattern(plan, spec_prefix)
        if pattern is not None:
            rules.append(Rule(pattern, owners))
    rules.append(Rule(f"/models/{plan.name}/", owners))
    return rules


class OwnersShare(NamedTuple):
    """One model's CODEOWNERS section (GovernanceTarget.project_part): its name, for the order, and its lines."""

    name: str
    lines: tuple[str, ...]  # empty: the model has no valid owner


def share(plan: Plan, *, include_specs: bool, spec_prefix: str) -> OwnersShare:
    rules = rules_for(plan, include_specs=include_specs, spec_prefix=spec_prefix)
    if not rules:
        return OwnersShare(plan.name, ())
    return OwnersShare(plan.name, ("", f"# {plan.name} (risk {plan.risk}, team {plan.team})",
                                   *(rule.line() for rule in rules)))


def render(plans: Sequence[Plan], *, path: str, include_specs: bool, spec_prefix: str,
           default_owners: Sequence[str], parts: Mapping[str, Any] | None = None) -> str:
    """The file; `parts` (spec path -> OwnersShare) spares the plans (compiler.render.plugins.every_part)."""
    shares = [s for _, s in every_part(plans, parts, OwnersShare,
                                       lambda p: share(p, include_specs=include_specs, spec_prefix=spec_prefix))]
    defaults = tuple(dict.fromkeys(o for o in default_owners if is_owner(o)))
    out = ["# Owners come from each spec's `owners` (roles owner and approver: GitHub handle, else email).",
           "# The last matching rule wins, so per-model rules follow the catch-all."]
    if defaults:
        out += ["", "# Project default (targets.governance.defaultOwners in mlspec.yaml)",
                Rule("*", defaults).line()]
    for found in sorted(shares, key=lambda s: s.name):  # the core sorts too; the file must not depend on it
        out += found.lines
    if defaults:
        out += ["", "# This file itself", Rule(f"/{path}", defaults).line()]
    return "\n".join(out) + "\n"
