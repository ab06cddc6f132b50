"""Cron strings between the two dialects (GUIDE §3).

Kubernetes CronJobs take five fields (minute first); KFP recurring runs (robfig/cron with seconds) take
six with SECONDS FIRST. croniter reads a sixth field as seconds at the END, so it must not be used to
check the KFP form.
"""

from __future__ import annotations

MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})


def kfp_cron(five: str) -> str:
    """`0 3 * * 1` -> `0 0 3 * * 1`: run at second 0 of the same minute."""
    text = five.strip()
    if text in MACROS:
        return text  # robfig/cron understands the same macros
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"{five!r} is not a five-field cron expression")
    return " ".join(["0", *fields])


def kubernetes_cron(six: str) -> str:
    """`0 0 3 * * 1` -> `0 3 * * 1`; only whole-minute schedules have a five-field form."""
    text = six.strip()
    if text in MACROS:
        return text
    fields = text.split()
    if len(fields) != 6:
        raise ValueError(f"{six!r} is not a six-field KFP cron expression")
    if fields[0] != "0":
        raise ValueError(f"{six!r} fires at second {fields[0]!r}; Kubernetes CronJobs run on whole minutes")
    return " ".join(fields[1:])
