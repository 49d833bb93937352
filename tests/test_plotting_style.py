"""The one figure style: labels, colours, line styles, experiment labels, the p_T = E guide."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from darkmoments import plotting
from darkmoments.models import MODEL_IDS, get_model

matplotlib.use("Agg")


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def _texts(fig) -> list[str]:
    out = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    return [t for t in out if t]


def test_paper_colours_and_one_label_per_model() -> None:
    colours = {"km": "red", "md": "green", "ed": "blue", "cr": "gray", "am": "brown"}
    for m, c in colours.items():
        assert plotting.model_line(m)["color"] == f"tab:{c}"
        assert plotting.model_label(m).startswith(get_model(m).letter + " (")
        assert plotting.model_label(m, long=False) == get_model(m).letter
    labels = [plotting.model_label(m) for m in MODEL_IDS]
    assert len(set(labels)) == 5


@pytest.mark.parametrize("role", ["curve", "reach", "relic"])
def test_coinciding_models_are_drawn_distinguishably(role: str) -> None:
    # M and E, C and A (and KM and C in shape) coincide: their lines must differ in
    # pattern or width, not only in colour
    for a, b in (("md", "ed"), ("cr", "am"), ("km", "cr")):
        la, lb = plotting.model_line(a, role), plotting.model_line(b, role)
        assert (la["ls"], la["lw"]) != (lb["ls"], lb["lw"]), (a, b, role)


def test_energy_is_never_a_bare_e() -> None:
    assert "E_{e_f^-}" in plotting.E_LABEL
    assert "[GeV]" in plotting.E_LABEL
    assert "p_T" in plotting.PT_LABEL
    assert "[GeV]" in plotting.PT_LABEL
    for obs in ("E", "pt", "E,pt"):
        assert plotting.observables_label(obs) not in ("E", "E only", "$E$ only")
    assert plotting.observables_label("E") == "energy only"


def test_one_set_of_font_sizes() -> None:
    st = plotting.style()
    ticks = float(st["xtick.labelsize"])
    assert ticks == float(st["ytick.labelsize"])
    assert 10 <= float(st["legend.fontsize"]) <= ticks <= float(st["axes.labelsize"]) <= 16


def _fig5_table() -> pd.DataFrame:
    e = np.linspace(0.0, 4.0, 9)
    p = np.concatenate([[0.0], np.geomspace(1e-3, 4.0, 8)])
    rows = []
    for g in ("KM, C, A", "M, E"):
        for i in range(8):
            for j in range(8):
                ok = p[j] < e[i + 1]
                rows.append(
                    {
                        "group": g,
                        "E_lo": e[i],
                        "E_hi": e[i + 1],
                        "pt_lo": p[j],
                        "pt_hi": p[j + 1],
                        "fraction": 1.0,
                        "density": 1.0 if ok else 0.0,
                    }
                )
    return pd.DataFrame(rows)


def test_fig5_guide_is_the_curve_pt_equals_e_on_log_axes() -> None:
    fig = plotting.plot_2d_groups(_fig5_table(), label="LDMX Phase I: 4 GeV")
    try:
        for ax in fig.axes[:2]:
            assert ax.get_yscale() == "log"
            (guide,) = [ln for ln in ax.lines if "kinematic limit" in ln.get_label()]
            x, y = np.asarray(guide.get_xdata()), np.asarray(guide.get_ydata())
            np.testing.assert_array_equal(x, y)
            assert x.size >= 100  # a curve on linear-x / log-y axes, not a 2-point segment
            # dense in log p_T: no step larger than a few percent
            assert np.max(np.diff(np.log(y))) < 0.05
        cbar_label = fig.axes[-1].get_ylabel()
        assert "GeV" in cbar_label
        assert fig.get_suptitle() == "LDMX Phase I: 4 GeV"
    finally:
        _close(fig)


def _hist(**keys) -> pd.DataFrame:
    e = np.linspace(0.0, 1.0, 6)
    return pd.DataFrame(
        {
            **{k: [v] * 5 for k, v in keys.items()},
            "lo": e[:-1],
            "hi": e[1:],
            "density": np.linspace(2.0, 0.1, 5),
        }
    )


def test_every_figure_states_the_experiment() -> None:
    label = "LDMX Phase II: 8 GeV e- on W"
    fig2 = pd.concat(
        [
            _hist(model=m, observable=o, method=k)
            for m in ("km", "md")
            for o in ("E", "pt")
            for k in ("exact", "analytic")
        ]
    )
    fig4 = pd.concat(
        [
            _hist(mass=x, model=m, observable=o)
            for x in (0.01, 1.0)
            for m in MODEL_IDS
            for o in ("E", "pt")
        ]
    )
    reach = pd.DataFrame(
        {
            "model": ["km", "km", "md", "md"],
            "curve": ["reach", "relic"] * 2,
            "mass": [0.1] * 4,
            "y": [1e-12, 1e-10, 1e-6, 1e-2],
        }
    )
    sig = pd.DataFrame(
        {
            "model": "km",
            "beam_energy": [4.0, 4.0],
            "mass": [0.01, 0.1],
            "sigma_pb": [2.0, 1.0],
            "sigma_err_pb": 0.01,
            "sigma_ww_pb": [3.0, 2.0],
            "k_factor": [0.67, 0.5],
            "k_factor_err": 0.01,
        }
    )
    figs = [
        plotting.plot_reach_relic(reach, label=label),
        plotting.plot_exact_vs_analytic(fig2, label=label),
        plotting.plot_nucleus_pt(_hist(model="km"), label=label),
        plotting.plot_kinematics(fig4, label=label),
        plotting.plot_sigma_vs_mass(sig, label=label),
    ]
    try:
        for fig in figs:
            assert label in _texts(fig)
            for ax in fig.axes:
                assert ax.get_xlabel() not in ("E", "$E$")
        # sigma(m_A'): legend entries are distinct (no five entries all reading "WW")
        legend = figs[-1].legends[0]
        names = [t.get_text() for t in legend.get_texts()]
        assert len(names) == len(set(names))
    finally:
        for fig in figs:
            _close(fig)


def test_grids_show_every_pair() -> None:
    pairs = [(a, b) for a in MODEL_IDS for b in MODEL_IDS if a != b]
    masses = np.array([0.01, 0.1, 1.0])
    nsig = pd.DataFrame(
        [
            {
                "true": a,
                "alt": b,
                "mass": m,
                "n_3sigma": 10.0,
                "n_5sigma": 30.0,
                "template_limited": a in ("km", "cr") and b in ("km", "cr"),
                "n_relic": 100.0,
            }
            for a, b in pairs
            for m in masses
        ]
    )
    fig = plotting.plot_nsigma_grid(nsig, label="x")
    try:
        axes = np.array(fig.axes[:25]).reshape(5, 5)
        for i in range(5):
            for j in range(5):
                n_lines = len(axes[i][j].lines)
                assert (n_lines == 0) if i == j else (n_lines >= 3), (i, j)
    finally:
        _close(fig)
