"""What a credential looks like. One definition, used twice: `mlspec lint` refuses credential-shaped
values anywhere in a spec (compiler.check.text_rules), and diff output redacts them (compiler.deploy.redact)
as a second line of defence for anything that reaches a rendered file some other way.

Two shapes:
- a well-known token format (cloud access key ids, GitHub/GitLab/Slack/OpenAI tokens, JWTs, private
  key blocks);
- a URL carrying credentials in its userinfo: `scheme://user:password@host` for any scheme, and any
  userinfo at all in an http(s) URL, where `https://<token>@github.com/...` is how tokens are passed.
  `ssh://git@host/...` names a user, not a secret, and stays allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

URL = "credentials in a URL"
TOKEN = re.compile(
    r"(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{20,255}"
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|sk-[A-Za-z0-9_-]{20,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
)
# scheme://userinfo@ ; the userinfo stops at the first character that ends an authority.
URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<userinfo>[^/?#@\s]+)@")


@dataclass(frozen=True, slots=True)
class Found:
    start: int  # the span of the secret itself (for a URL: the userinfo only)
    end: int
    what: str  # shown to users; never the secret


# Cheap first look: every token shape above contains one of these, and a URL with userinfo `://...@`.
TOKEN_PREFIXES = r"A3T|AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|gh[pousr]_|github_pat_|glpat-|xox|sk-|eyJ|-----BEGIN"
PREFILTER = re.compile(rf"{TOKEN_PREFIXES}|://[^/?#@\s]*@")


def find(text: str) -> Iterator[Found]:
    """Every credential-shaped span in `text`, in order."""
    if not PREFILTER.search(text):
        return
    for match in TOKEN.finditer(text):
        yield Found(match.start(), match.end(), "a token")
    for match in URL_USERINFO.finditer(text):
        userinfo = match.group("userinfo")
        if ":" in userinfo or match.group("scheme").lower() in ("http", "https"):
            yield Found(match.start("userinfo"), match.end("userinfo"), URL)


def first(text: str) -> Found | None:
    if not PREFILTER.search(text):  # nearly every text a lint asks about: no generator, no min()
        return None
    return min(find(text), key=lambda f: f.start, default=None)


def redact(text: str, replacement: str) -> str:
    """`text` with every credential-shaped span replaced (a URL keeps its scheme and host)."""
    spans = sorted(find(text), key=lambda f: f.start)
    out: list[str] = []
    at = 0
    for found in spans:
        if found.start < at:
            continue  # overlapping shapes: the earlier span already covers it
        out.append(text[at:found.start])
        out.append(replacement)
        at = found.end
    out.append(text[at:])
    return "".join(out)
