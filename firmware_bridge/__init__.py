"""The host side of the unit's protocol: codec, transports by URL, the device client."""

from __future__ import annotations


def version() -> str:
    """This installation's halfstep version (for discovery messages, wire logs, bundles)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("halfstep")
    except PackageNotFoundError:
        return "0"
