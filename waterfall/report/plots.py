"""The report's plots (matplotlib, no display): who absorbed the loss in each stress scenario
(R-WF-3, R-CH-1/2, waterfall/report/compare.py) and Z3 proof time against N.

Colours: layers take distinct hues (tab10, then hatched), accounts shades of one other hue,
bad debt black, so no two series share a colour; the legend sits beside the axes, never on
the bars.
"""
from __future__ import annotations

from pathlib import Path

from waterfall.model.loader import load_scenario
from waterfall.model.mechanism import Mechanism
from waterfall.spec.invariants import REGISTRY

from waterfall.proofs import verdict as V

HATCHES = ("", "//", "..", "xx")


def series_colours(labels: list[str]) -> dict[str, tuple[tuple[float, ...], str]]:
    """(colour, hatch) per series label: layers, then accounts, then bad debt."""
    import matplotlib.pyplot as plt
    layers = [lb for lb in labels if lb.startswith("layer ")]
    accounts = [lb for lb in labels if lb.startswith("account ")]
    out: dict[str, tuple[tuple[float, ...], str]] = {}
    tab10 = [plt.cm.tab10(i) for i in range(10) if i != 1]  # orange is the accounts' hue
    for i, lb in enumerate(layers):
        out[lb] = (tab10[i % len(tab10)], HATCHES[(i // len(tab10)) % len(HATCHES)])
    for i, lb in enumerate(accounts):  # light to dark oranges, evenly spaced
        out[lb] = (plt.cm.Oranges(0.3 + 0.6 * i / max(1, len(accounts) - 1)), "")
    for lb in labels:
        out.setdefault(lb, ((0.1, 0.1, 0.1, 1.0), ""))  # bad debt
    return out


def loss_plot(out: Path, scenarios_dir: Path, mech: Mechanism) -> Path | None:
    """Stacked bars per stress scenario under one mechanism: the share of the loss absorbed
    by each layer, each account (haircut, levy, assessment, ADL cost) and bad debt."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from waterfall.report.compare import compare
    runs = [c for p in sorted(scenarios_dir.glob("*.json")) for c in compare(load_scenario(p), [mech])]
    parts: dict[str, list[int]] = {}
    for k, c in enumerate(runs):
        shares = {f"layer {n}": v for n, v in c.layers.items()}
        shares.update({f"account {a}": o.paid for a, o in c.accounts.items() if o.paid})
        shares["bad debt"] = c.bad_debt
        for label, v in shares.items():
            parts.setdefault(label, [0] * len(runs))[k] = v
    shown = [(label, values) for label, values in sorted(parts.items()) if any(values)]
    if not shown:
        return None
    totals = [sum(v[k] for _, v in shown) for k in range(len(runs))]
    style = series_colours([label for label, _ in shown])
    fig, ax = plt.subplots(figsize=(11, 4.5))
    bottom = [0.0] * len(runs)
    for label, values in shown:  # shares of each scenario's loss, for display only
        pct = [100 * v / t if t else 0.0 for v, t in zip(values, totals)]
        colour, hatch = style[label]
        ax.bar([c.scenario for c in runs], pct, bottom=bottom, label=label, color=colour, hatch=hatch,
               edgecolor="white", linewidth=0.5)
        bottom = [b + v for b, v in zip(bottom, pct)]
    ax.set_ylabel("share of the loss absorbed (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Who absorbed the loss, layer by layer and account by account: {mech.id}")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right", fontsize=7)
    fig.tight_layout()
    dest = out / f"loss-{mech.id}.png"
    fig.savefig(dest, dpi=90)
    plt.close(fig)
    return dest


def time_against_n(ns: list[int], timeout: float) -> dict[str, list[tuple[int, float, str]]]:
    """Seconds to prove every invariant on the liquidation of two mechanisms (one market) at
    each k, and whether all of them came out PROVED (bench/prove.py has the full table)."""
    from waterfall.model.loader import catalogue, load_mechanism
    from waterfall.proofs.prove.harness import Sizes
    from waterfall.proofs.prove.prover import prove_mechanism
    series: dict[str, list[tuple[int, float, str]]] = {}
    for mid in ("generic-socialized-loss", "drift-v2"):
        mech = load_mechanism(catalogue()[mid])
        points = []
        for k in ns:
            vs, _ = prove_mechanism(mech, list(REGISTRY), Sizes(k, 1, smaller=False), ["liquidate"], timeout)
            worst = next((v.kind for v in vs if v.kind not in (V.PROVED_UP_TO, V.NOT_APPLICABLE)), V.PROVED_UP_TO)
            points.append((k, max(v.seconds for v in vs), worst))
        series[f"{mid} liquidate"] = points
    return series


def proof_time_plot(out: Path, time_n: dict[str, list[tuple[int, float, str]]]) -> Path:
    """Proof time of the core invariants against N (one line each; a missing point is a
    query that did not prove)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for label, points in time_n.items():
        proved = [(n, t) for n, t, kind in points if kind in V.KINDS]
        ax.plot([n for n, _ in proved], [t for _, t in proved], marker="o", label=label)
    ax.set_xlabel("accounts k (one market)")
    ax.set_ylabel("seconds")
    ax.set_title("Proof time of every invariant on the liquidation, against k")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False)
    fig.tight_layout()
    dest = out / "proof-time.png"
    fig.savefig(dest, dpi=90)
    plt.close(fig)
    return dest
