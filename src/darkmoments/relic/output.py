"""Atomic writers and the relic-target figure (draws results, computes no physics)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..io.atomic import atomic_path
from ..io.atomic import write_csv_atomic as write_csv_atomic_
from ..models import get_model

__all__ = ["plot_targets", "write_csv_atomic"]


def write_csv_atomic(
    table: pd.DataFrame, path: str | os.PathLike[str], *, mkdir: bool = True
) -> Path:
    """Write ``table`` as CSV through a temporary file in the same directory and os.replace.

    Parameters
    ----------
    table : pandas.DataFrame
        Table to write (masses in GeV, couplings in the model's units).
    path : path-like
        Destination.
    mkdir : bool
        Create missing parent directories (the study scripts' result directories); the
        command line checks its ``--out`` itself and passes False.

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from darkmoments.relic.output import write_csv_atomic
    >>> new = Path(tempfile.mkdtemp()) / "new" / "t.csv"  # the directory is created
    >>> write_csv_atomic(pd.DataFrame({"m_ap": [0.1]}), new).read_text().splitlines()
    ['m_ap', '0.1']
    """
    return write_csv_atomic_(table, path, mkdir=mkdir, float_format="%.8g")


def plot_targets(table: pd.DataFrame, path: str | os.PathLike[str], *, mkdir: bool = True) -> Path:
    """Log-log plot of the relic targets y versus m_A' (paper figure 1 style), written atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`darkmoments.relic.scan` (columns model, mass, y, y_hadron_proxy).
    path : path-like
        Image file (format from the suffix, e.g. ``.png`` or ``.pdf``).
    mkdir : bool
        Create missing parent directories (as in :func:`write_csv_atomic`).

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from darkmoments import relic
    >>> from darkmoments.relic.output import plot_targets
    >>> table = relic.scan("km", n_masses=3, m_min=0.01, m_max=0.1, proxy_band=False)
    >>> plot_targets(table, Path(tempfile.mkdtemp()) / "relic.png").suffix
    '.png'
    """
    from ..plotting import _pyplot, style  # the one figure style (no findfont warnings)

    plt = _pyplot()
    dest = Path(path)
    with plt.style.context(style()):
        fig, ax = plt.subplots(figsize=(8, 6))
        for mid, grp in table.groupby("model", sort=False):
            model = get_model(str(mid))
            grp = grp.sort_values("mass")
            ax.plot(grp["mass"], grp["y"], color=model.color, lw=2, label=model.letter)
            if "y_hadron_proxy" in grp and grp["y_hadron_proxy"].notna().any():
                ax.fill_between(
                    grp["mass"],
                    grp["y"],
                    grp["y_hadron_proxy"],
                    color=model.color,
                    alpha=0.2,
                    lw=0,
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"$m_{A'}$ [GeV]")
        ax.set_ylabel(r"$y = g_f^2\,\alpha_D\,(m_\chi/m_{A'})^4\,\Lambda_f^{2n}$")
        ax.legend(title="relic targets", loc="best")
        fig.tight_layout()
        try:
            with atomic_path(dest, mkdir=mkdir) as tmp:
                fig.savefig(tmp, format=dest.suffix.lstrip(".") or "png")
        finally:
            plt.close(fig)
    return dest
