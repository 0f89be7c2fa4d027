"""Optional dependencies: one check, one error, one install hint.

Parts of cleantake need packages that a plain ``pip install cleantake`` does not bring:
the HTML report needs matplotlib (extra ``report``), ``cleantake batch`` needs Dask
distributed (extra ``batch``). :func:`require` imports such a package or raises
:class:`~cleantake.errors.MissingDependencyError` saying which extra to install. Callers
check before they create or read anything, so a missing package costs no work.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

__all__ = ["require", "EXTRAS"]

#: What each extra is for, as the start of the message.
EXTRAS = {
    "report": "HTML reports (--report) need",
    "batch": "cleantake batch needs",
    "fast": "the compiled kernels need",
}


def require(module: str, *, extra: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or explain how to install it.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"matplotlib.figure"`` or ``"distributed"``.
    extra : str
        The cleantake extra that installs it (a key of :data:`EXTRAS`).
    package : str, optional
        Name of the package in the message (default: the top-level module name).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingDependencyError
        With the line to run, e.g. ``pip install 'cleantake[report]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        name = package or module.split(".")[0]
        purpose = EXTRAS.get(extra, f"the {extra!r} extra needs")
        raise MissingDependencyError(
            f"{purpose} {name}, which is not installed; "
            f"install it with pip install 'cleantake[{extra}]'") from None
