"""Does the backend's Python provide what a release requires? (nothing is installed)."""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement


def missing_requirements(requirements: list[str]) -> list[str]:
    """The requirements the running environment does not satisfy, each with the reason.

    Example:
        >>> missing_requirements(["packaging", "surely-not-installed-xyz>=1"])
        ["'surely-not-installed-xyz>=1' (not installed)"]
    """
    missing = []
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            missing.append(f"{text!r} (not a valid requirement)")
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(f"{text!r} (not installed)")
            continue
        if requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{text!r} (version {version} is installed)")
    return missing
