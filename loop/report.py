"""The campaign report a person reads in the morning: HTML with PNG figures.

Shows the best-so-far curve against what random search would be expected to find in the same
pool (when the oracle is a lookup table, the pool's values are known), the top candidates with
their structures drawn by RDKit, every measured property with its unit, the model's prediction
(mean ± std) at selection, failures with reasons, and the event log.
"""

from __future__ import annotations

import html
from collections import Counter
import math
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rdkit import Chem  # noqa: E402
from rdkit.Chem.Draw import rdMolDraw2D  # noqa: E402
from scipy.special import gammaln  # noqa: E402

from amala.loop import md_figures  # noqa: E402
from amala.loop.objective import Objective  # noqa: E402
from amala.loop.store import Store  # noqa: E402
from amala.loop.tables import CampaignRow  # noqa: E402


def random_search_expectation(pool_values: np.ndarray, n_max: int, maximize: bool = True) -> np.ndarray:
    """E[best of n] for n = 1..n_max draws without replacement from the pool (exact).

    With values sorted ascending, the k-th smallest is the maximum of an n-subset with probability
    C(k-1, n-1) / C(N, n).
    """
    v = np.sort(np.asarray(pool_values, dtype=float))
    if not maximize:
        v = -v[::-1]
    N = len(v)
    k = np.arange(1, N + 1)
    out = []
    for n in range(1, min(n_max, N) + 1):
        logp = np.full(N, -np.inf)
        ok = k >= n
        logp[ok] = (gammaln(k[ok]) - gammaln(n) - gammaln(k[ok] - n + 1)) - (
            gammaln(N + 1) - gammaln(n + 1) - gammaln(N - n + 1))
        out.append(float(np.sum(np.exp(logp) * v)))
    out = np.array(out)
    return out if maximize else -out


def _svg(smiles: str, size: tuple[int, int] = (220, 140)) -> str:
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return html.escape(smiles)
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    drawer.DrawMolecule(mol)
    drawer.FinishDrawing()
    return drawer.GetDrawingText().split("?>", 1)[-1]


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}" if abs(value) < 1e-2 or abs(value) >= 1e4 else f"{value:.{digits}f}"


def _md_section(ranked, out_dir: Path, n_series: int = 10) -> str:
    """Arrhenius plots of the best glasses and the RDFs of the best one, when the oracle ran MD."""
    series = [(c.representation, e.values) for c, e in ranked[:n_series]]
    parts = []
    if md_figures.arrhenius_figure(series, out_dir / "arrhenius.png"):
        parts.append('<h2>Temperature series</h2><p>Each glass: Nernst–Einstein σ from the Li diffusivity at each '
                     'production temperature (±1 std from independent Li groups), the Arrhenius fit, and its '
                     'extrapolation to 300 K.</p><img src="arrhenius.png" alt="Arrhenius plots">')
    if ranked and "rdf" in (ranked[0][1].artefacts or {}):
        c, e = ranked[0]
        if md_figures.rdf_figure(Path(e.artefacts["rdf"]), out_dir / "rdf_best.png",
                                 f"Radial distribution functions of the best glass\n{c.representation}"):
            parts.append(f'<p>Structure of the best glass (<code>{html.escape(e.artefacts.get("glass", ""))}</code>):'
                         f'</p><img src="rdf_best.png" alt="RDF of the best glass">')
    return "\n".join(parts)


def _decisions_section(store: Store, campaign_id: int) -> str:
    """Every answer to a batch waiting for approval: who, when, via what, and what changed."""
    decisions = store.decisions(campaign_id)
    waiting = store.awaiting_approval(campaign_id)
    if not decisions and waiting is None:
        return ""
    names = {c.key: c.representation for _, _, c in store.selections(campaign_id)}
    show = lambda keys: ", ".join(f"<code>{html.escape(names.get(k, k))}</code>" for k in keys) or "—"
    rows = "".join(
        f"<tr><td>{d.time:%Y-%m-%d %H:%M}</td><td>{it.index}</td><td>{html.escape(d.by)}</td><td>{html.escape(d.via)}"
        f"</td><td><b>{d.action}</b></td><td>{show(d.rejected)}</td><td>{show(d.added)}</td>"
        f"<td>{'—' if d.batch_size is None else d.batch_size}</td><td>{html.escape('; '.join(f'{t}: {r}' for t, r in d.refused.items()))}"
        f"</td><td>{html.escape(d.comment)}</td></tr>" for d, it in decisions)
    note = (f"<p><b>Batch {waiting.index} is waiting for approval</b> (<code>amala pending</code>, "
            f"<code>amala approve</code>).</p>" if waiting is not None else "")
    return (f"<h2>Approvals ({len(decisions)})</h2>{note}<table><tr><th>time (UTC)</th><th>iteration</th><th>by</th>"
            "<th>via</th><th>decision</th><th>rejected</th><th>added</th><th>batch size</th><th>refused</th>"
            f"<th>comment</th></tr>{rows}</table>")


def write_report(store: Store, campaign: CampaignRow, objective: Objective, out_dir: Path,
                 pool_values: np.ndarray | None = None, top_k: int = 20) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    evaluations = store.evaluations(campaign.id)
    selections = {c.key: (it, sel) for it, sel, c in store.selections(campaign.id)}
    maximize = objective.direction == "maximize"
    sign = objective.sign
    values = np.array([e.objective if e.objective is not None else np.nan for _, e in evaluations])
    ok = ~np.isnan(values)

    # best-so-far figure
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if ok.any():
        filled = np.where(ok, sign * values, -np.inf)
        best = sign * np.maximum.accumulate(filled)
        n = np.arange(1, len(values) + 1)
        ax.plot(n[np.isfinite(best)], best[np.isfinite(best)], lw=2, label=f"{campaign.name}")
        ax.scatter(n[ok], values[ok], s=6, alpha=0.35, color="grey", label="each evaluation")
    if pool_values is not None and len(values):
        expectation = random_search_expectation(pool_values, len(values), maximize)
        ax.plot(np.arange(1, len(expectation) + 1), expectation, "--", color="C3",
                label="random search (expected best)")
        ax.axhline(pool_values.max() if maximize else pool_values.min(), color="k", lw=0.8, ls=":",
                   label="best in pool")
    ax.set_xlabel("evaluations")
    ax.set_ylabel(objective.label)
    ax.set_title("Best so far")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "best_so_far.png", dpi=120)
    plt.close(fig)

    # prediction-vs-result figure: is the model's uncertainty honest?
    pairs = [(selections[c.key][1], e) for c, e in evaluations
             if e.objective is not None and c.key in selections and selections[c.key][1].predicted_mean is not None]
    inside = None
    if pairs:
        pred = np.array([s.predicted_mean for s, _ in pairs])
        err = np.array([s.predicted_std for s, _ in pairs])
        meas = np.array([e.objective for _, e in pairs])
        inside = float(np.mean(np.abs(meas - pred) <= err))
        fig, ax = plt.subplots(figsize=(4.6, 4.2))
        ax.errorbar(pred, meas, xerr=err, fmt="o", ms=3, alpha=0.6, elinewidth=0.6)
        lo, hi = min(pred.min(), meas.min()), max(pred.max(), meas.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"predicted at selection (mean ± std)")
        ax.set_ylabel("measured")
        ax.set_title(f"{objective.label}\n{inside:.0%} of results within ±1 std")
        fig.tight_layout()
        fig.savefig(out_dir / "prediction_vs_result.png", dpi=120)
        plt.close(fig)

    # top-k table
    ranked = sorted(((c, e) for c, e in evaluations if e.objective is not None),
                    key=lambda ce: sign * ce[1].objective, reverse=True)[:top_k]
    properties = sorted({p for _, e in ranked for p in e.values if not md_figures.is_per_temperature(p)})
    md_section = _md_section(ranked, out_dir)
    head = "".join(f"<th>{html.escape(p)} [{html.escape(ranked[0][1].values[p]['unit'])}]</th>" for p in properties) \
        if ranked else ""
    rows = []
    for rank, (c, e) in enumerate(ranked, 1):
        it, sel = selections.get(c.key, (None, None))
        pred = "—" if sel is None or sel.predicted_mean is None else \
            f"{sel.predicted_mean:.3f} ± {sel.predicted_std:.3f}"
        acq = "—" if sel is None or sel.acquisition_value is None else f"{sel.acquisition_value:.3g}"
        cells = "".join(
            f"<td>{_fmt(e.values[p]['value'])}" + (f" ± {_fmt(e.values[p]['std'])}" if e.values.get(p, {}).get('std') else "")
            + "</td>" if p in e.values else "<td>—</td>" for p in properties)
        drawing = _svg(c.representation) if c.kind == "smiles" else ""
        rows.append(f"<tr><td>{rank}</td><td>{drawing}</td><td><code>{html.escape(c.representation)}</code>"
                    f"</td><td><b>{e.objective:.3f}</b></td>{cells}<td>{html.escape(c.agent)}</td>"
                    f"<td>{'' if it is None else it.index} ({html.escape(it.strategy) if it else ''})"
                    f"{'' if sel is None or sel.approval == 'auto' else '; ' + sel.approval}</td>"
                    f"<td>{pred}</td><td>{acq}</td><td>{html.escape(e.oracle)}/{html.escape(e.fidelity)}</td></tr>")
    decisions_section = _decisions_section(store, campaign.id)
    failures = [(c, e) for c, e in evaluations if e.status != "ok"]
    failure_rows = "".join(f"<tr><td><code>{html.escape(c.representation)}</code></td><td>{html.escape(e.reason or '')}"
                           f"</td></tr>" for c, e in failures[:200])
    events = store.events(campaign.id)[-30:]
    event_rows = "".join(f"<tr><td>{ev.time:%Y-%m-%d %H:%M:%S}</td><td>{ev.level}</td><td>{html.escape(ev.kind)}</td>"
                         f"<td>{html.escape(ev.message)}</td></tr>" for ev in events)
    best_text = "—" if not ranked else f"{ranked[0][1].objective:.3f} ({objective.label})"
    uncertainty_note = ("Lookup values are published MD results; the source reports no per-value uncertainty, "
                        "so none is shown for them." if any(e.oracle == "lookup" for _, e in evaluations) else "")
    winners = Counter(c.agent for c, _ in ranked[:10])
    winners_line = ("<p>Winners by agent (top " + str(min(10, len(ranked))) + "): "
                    + ", ".join(f"{html.escape(a)} {n}" for a, n in winners.most_common()) + "</p>") if ranked else ""
    caveats = sorted({e.provenance["caveat"] for _, e in evaluations if (e.provenance or {}).get("caveat")})
    caveat_box = "".join(f'<p style="background:#fff3cd;border:1px solid #e0c060;padding:6px">'
                         f'<b>Read first:</b> {html.escape(text)}</p>' for text in caveats)
    calibration = "" if inside is None else f"<p>{inside:.0%} of measured values fell within the model's ±1 std " \
                                            f"at selection (≈68% expected for a calibrated model).</p>"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>amala report: {html.escape(campaign.name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;vertical-align:middle}}th{{background:#f3f3f3}}code{{font-size:11px}}</style>
</head><body>
<h1>Campaign {html.escape(campaign.name)}</h1>
<p>Status: <b>{html.escape(campaign.status)}</b> · evaluations: {len(evaluations)} ({len(failures)} failed) ·
best: <b>{best_text}</b> · report written {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}</p>
{caveat_box}
<img src="best_so_far.png" alt="best so far">
{'<img src="prediction_vs_result.png" alt="prediction vs result">' if pairs else ''}
{calibration}
{md_section}
<h2>Top {len(ranked)} candidates</h2>
{winners_line}
<p>Objective column: {html.escape(objective.label)}. Prediction: the surrogate's mean ± std of the objective when the
candidate was selected. Acquisition: the value of the acquisition function when picked (for qLogNEI the
natural log of the expected improvement, for greedy the predicted mean). {uncertainty_note}</p>
<table><tr><th>#</th><th>structure</th><th>candidate</th><th>objective</th>{head}<th>proposed by</th>
<th>iteration (strategy; approval)</th><th>prediction</th><th>acquisition</th><th>oracle</th></tr>{''.join(rows)}</table>
{decisions_section}
<h2>Failed evaluations ({len(failures)})</h2>
<table><tr><th>candidate</th><th>reason</th></tr>{failure_rows}</table>
<h2>Recent events</h2><table><tr><th>time (UTC)</th><th>level</th><th>kind</th><th>message</th></tr>{event_rows}</table>
</body></html>"""
    path = out_dir / "report.html"
    path.write_text(page)
    return path
