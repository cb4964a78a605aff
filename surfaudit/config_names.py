"""Names in the configuration: week days, host names, the object-store endpoint and
the names of keys.

Kept out of config.py, which parses and validates sections, because these two are
where a plausible typo used to be accepted silently: `"monkey"` read as Monday
(only the first three letters were looked at), and a social domain written as a
URL (`"https://www.youtube.com/"`) or a wildcard (`"*.linkedin.com"`) was kept as
written and matched no host at all. Now a day must be `mon`..`sun` or a full
English name, and a host must be a host name or an IP address; the error names
the key and, for a URL or wildcard, says what to write instead. A key or section
name that is not known is reported with the closest known name (`pth`: did you
mean path?), since a misspelt key would otherwise look like a missing feature.
The endpoint rule (`endpoint_problem`) is the one both `[store].endpoint` and the
endpoint a store location finds in the environment are held to.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOST = re.compile(r"^[\w-]+(\.[\w-]+)*$")


def day_number(day: object) -> int | None:
    """`mon`..`sun` or `monday`..`sunday` (any case) -> 0..6; anything else (`monkey`) -> None."""
    if not isinstance(day, str):
        return None
    name = day.strip().lower()
    for names in (DAY_NAMES, _FULL_DAYS):
        if name in names:
            return names.index(name)
    return None


def host_problem(value: object) -> str | None:
    """Why `value` cannot be a configured host or domain (None when it can). A URL or a
    wildcard would silently match nothing, so it is refused with the form to write."""
    if not isinstance(value, str) or not normalise_host(value):
        return "is not a host name"
    host = normalise_host(value)
    if _HOST.match(host) or _is_ip(host):
        return None
    bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host).split("/")[0].split("?")[0].split("@")[-1]
    bare = bare.rsplit(":", 1)[0] if bare.count(":") == 1 else bare
    bare = bare.removeprefix("*.").rstrip(".")
    hint = f'; write "{bare}" (sub-domains are included)' if bare and _HOST.match(bare) else ""
    if "*" in host:
        return f"is a wildcard, not a host name{hint}"
    if "://" in host or "/" in host:
        return f"is a URL, not a host name{hint}"
    return f"is not a host name{hint}"


def endpoint_problem(url: str) -> str | None:
    """Why `url` cannot be an S3 endpoint (None when it can): an http(s):// URL with a
    host, and plain http only for this machine (a test server, a local MinIO), so
    credentials never cross a network in clear."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "not an http(s):// URL"
    if parts.scheme not in ("http", "https") or not host or any(ch.isspace() for ch in url):
        return "not an http(s):// URL"
    if parts.scheme == "http" and not _local_host(host):
        return "plain http is only allowed for an endpoint on this machine (localhost); use https"
    return None


def _local_host(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def normalise_host(host: str) -> str:
    """Hosts and domains compare lower-cased, trimmed, without a trailing dot."""
    return host.strip().lower().rstrip(".")


def unknown(what: str, name: str, known: Iterable[str], list_known: bool = False) -> str:
    """`what` (e.g. "unknown key") with, in brackets, the known name closest to `name`
    when one is close (difflib) and, with `list_known`, every known name."""
    names = sorted(known)
    notes = [f"did you mean {match}?" for match in difflib.get_close_matches(name, names, n=1)]
    if list_known:
        notes.append(f"known: {', '.join(names)}")
    return f"{what} ({' '.join(notes)})" if notes else what
