"""The campaign report a person reads in the morning: HTML with PNG figures.

Shows the best-so-far curve against what random search would be expected to find in the same
pool (when the oracle is a lookup table, the pool's values are known), the top candidates with
their structures drawn by RDKit, every measured property with its unit, the model's prediction
(mean ± std) at selection, failures with reasons, and the event log. Every report also says what
produced it (amala version, seed, dataset source, the stored config), so a page forwarded on its
own can still be traced back to its run. Wide tables scroll inside their own box; the page itself
stays within the window.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from rdkit import Chem  # noqa: E402
from rdkit.Chem.Draw import rdMolDraw2D  # noqa: E402
from scipy.special import gammaln  # noqa: E402

from amala.agents.composition import InvalidComposition, parse_composition  # noqa: E402
from amala.loop import md_figures  # noqa: E402
from amala.loop.objective import Objective  # noqa: E402
from amala.agents.redaction import redact_data  # noqa: E402
from amala.loop.store import Store  # noqa: E402
from amala.loop.tables import CampaignRow  # noqa: E402
from amala.oracles import datasets  # noqa: E402

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:middle}th{background:#f3f3f3}code{font-size:11px}
.wide{overflow-x:auto;max-width:100%;margin-bottom:1em}
img{max-width:100%;height:auto}
pre{overflow-x:auto;background:#f7f7f7;padding:6px;font-size:12px}
p code,li code{overflow-wrap:anywhere}
.caveat{background:#fff3cd;border:1px solid #e0c060;padding:6px}
.comp,.num{white-space:nowrap}"""


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


# --- formatting: one function per kind of thing shown -------------------------------------------

def format_composition(text: str, digits: int = 2) -> str:
    """'Al2O3:0.100000;Li2O:0.250000' -> '0.10 Al2O3 · 0.25 Li2O': how a person writes a glass.

    The stored canonical spelling stays the identity (and is shown on hover); this is display only.
    Text that is not a composition comes back unchanged."""
    try:
        fractions = parse_composition(text)
    except InvalidComposition:
        return text
    return " · ".join(f"{x:.{digits}f} {oxide}" for oxide, x in fractions.items())


def candidate_label(representation: str, kind: str) -> str:
    """The plain-text name of a candidate: a formatted composition, or the SMILES as stored."""
    return format_composition(representation) if kind == "composition" else representation


def _candidate_html(representation: str, kind: str) -> str:
    label = html.escape(candidate_label(representation, kind))
    if kind == "composition":
        return f'<span class="comp" title="{html.escape(representation)}">{label}</span>'
    return f"<code>{label}</code>"


def format_number(value: float | None, unit: str | None = None, digits: int = 3) -> str:
    """A value for a table cell: counts (dimensionless whole numbers) without decimals, very small
    or large numbers in scientific notation, the rest with `digits` decimals; missing as '—'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if (isinstance(value, int) or unit == "1") and float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}g}" if abs(value) < 1e-2 or abs(value) >= 1e4 else f"{value:.{digits}f}"


def _measurement(m: dict) -> str:
    text = format_number(m["value"], m.get("unit"))
    return text + (f" ± {format_number(m['std'], m.get('unit'))}" if m.get("std") else "")


def _unit_header(name: str, unit: str) -> str:
    return f"<th>{html.escape(name)} [{html.escape(unit)}]</th>"


def _table(header: str, rows: str) -> str:
    """A table in its own horizontally scrolling box, so a wide one never widens the page."""
    return f'<div class="wide"><table><tr>{header}</tr>{rows}</table></div>'


def _svg(smiles: str, size: tuple[int, int] = (220, 140)) -> str:
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return html.escape(smiles)
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    drawer.DrawMolecule(mol)
    drawer.FinishDrawing()
    return drawer.GetDrawingText().split("?>", 1)[-1]


# --- where the numbers came from ----------------------------------------------------------------

def _redacted(value, key: str = ""):
    """The config as shown, because a report gets forwarded: webhook paths cut (for Slack-style
    hooks the path is the credential), then every credential-looking string masked (`redaction`)."""
    if isinstance(value, dict):
        return redact_data({k: _redacted(v, k) for k, v in value.items()})
    if isinstance(value, list):
        return [_redacted(v, key) for v in value]
    if key == "webhook" and isinstance(value, str) and "://" in value:
        scheme, rest = value.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}/…"
    return value


def amala_version() -> str:
    try:
        return metadata.version("amala")
    except metadata.PackageNotFoundError:
        return "unknown (not installed as a package)"


def dataset_source(config: dict) -> str:
    """HTML: the dataset behind the campaign (name, local copy, URL, licence, citation), or that
    every value came from the oracle itself."""
    data = config.get("data")
    oracle = config.get("oracle") or {}
    if not data:
        profile = f", profile {oracle['profile']}" if oracle.get("profile") else ""
        return (f"none: every value was computed by the oracle (<code>{html.escape(str(oracle.get('kind', '?')))}"
                f"</code>{html.escape(profile)})")
    name = str(data.get("dataset", "?"))
    spec = datasets.DATASETS.get(name)
    path = data.get("path") or (datasets.data_dir() / spec.filename if spec else None)
    parts = [f"<b>{html.escape(name)}</b>", f"local copy <code>{html.escape(str(path))}</code>"]
    if data.get("subset"):
        parts.append(f"seeded random subset of {int(data['subset'])} rows")
    if spec is not None:
        parts += [f'source <a href="{html.escape(spec.url)}"><code>{html.escape(spec.url)}</code></a>',
                  f"licence {html.escape(spec.license)}", html.escape(spec.citation)]
    return " · ".join(parts)


def _provenance_section(campaign: CampaignRow) -> str:
    config = campaign.config or {}
    shown = yaml.safe_dump(_redacted(config), sort_keys=False, allow_unicode=True)
    return (f"<p>amala <b>{html.escape(amala_version())}</b> · seed <b>{html.escape(str(config.get('seed', '—')))}"
            f"</b> · dataset: {dataset_source(config)}</p>\n<details><summary>Campaign config (as stored)"
            f"</summary><pre>{html.escape(shown)}</pre></details>")


# --- figures ------------------------------------------------------------------------------------

def _best_so_far_figure(values: np.ndarray, objective: Objective, name: str, pool_values, path: Path) -> None:
    maximize, sign = objective.direction == "maximize", objective.sign
    ok = ~np.isnan(values)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if ok.any():
        best = sign * np.maximum.accumulate(np.where(ok, sign * values, -np.inf))
        n = np.arange(1, len(values) + 1)
        ax.plot(n[np.isfinite(best)], best[np.isfinite(best)], lw=2, label=name)
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
    if ax.get_legend_handles_labels()[0]:  # nothing evaluated yet: an empty frame, no legend
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _prediction_figure(pairs, objective: Objective, path: Path) -> float | None:
    """Measured against predicted-at-selection; returns the share within ±1 std (None if no pairs)."""
    if not pairs:
        return None
    pred = np.array([s.predicted_mean for s, _ in pairs])
    err = np.array([s.predicted_std for s, _ in pairs])
    meas = np.array([e.objective for _, e in pairs])
    inside = float(np.mean(np.abs(meas - pred) <= err))
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.errorbar(pred, meas, xerr=err, fmt="o", ms=3, alpha=0.6, elinewidth=0.6)
    lo, hi = min(pred.min(), meas.min()), max(pred.max(), meas.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel("predicted at selection (mean ± std)")
    ax.set_ylabel("measured")
    ax.set_title(f"{objective.label}\n{inside:.0%} of results within ±1 std")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return inside


def _md_section(ranked, out_dir: Path, n_series: int = 10) -> str:
    """Arrhenius plots of the best glasses and the RDFs of the best one, when the oracle ran MD."""
    series = [(candidate_label(c.representation, c.kind), e.values) for c, e in ranked[:n_series]]
    parts = []
    if md_figures.arrhenius_figure(series, out_dir / "arrhenius.png"):
        parts.append('<h2>Temperature series</h2><p>Each glass: Nernst–Einstein σ from the Li diffusivity at each '
                     'production temperature (±1 std from independent Li groups), the Arrhenius fit, and its '
                     'extrapolation to 300 K.</p><img src="arrhenius.png" alt="Arrhenius plots">')
    if ranked and "rdf" in (ranked[0][1].artefacts or {}):
        c, e = ranked[0]
        title = f"Radial distribution functions of the best glass\n{candidate_label(c.representation, c.kind)}"
        if md_figures.rdf_figure(Path(e.artefacts["rdf"]), out_dir / "rdf_best.png", title):
            parts.append(f'<p>Structure of the best glass (<code>{html.escape(e.artefacts.get("glass", ""))}</code>,'
                         ' extended XYZ with composition, profile, temperature, potential and seed in its info line):'
                         '</p><img src="rdf_best.png" alt="RDF of the best glass">')
    return "\n".join(parts)


# --- tables -------------------------------------------------------------------------------------

def _decisions_section(store: Store, campaign_id: int) -> str:
    """Every answer to a batch waiting for approval: who, when, via what, and what changed."""
    decisions = store.decisions(campaign_id)
    waiting = store.awaiting_approval(campaign_id)
    if not decisions and waiting is None:
        return ""
    names = {c.key: (c.representation, c.kind) for _, _, c in store.selections(campaign_id)}
    show = lambda keys: ", ".join(_candidate_html(*names.get(k, (k, "?"))) for k in keys) or "—"  # noqa: E731
    rows = "".join(
        f"<tr><td>{d.time:%Y-%m-%d %H:%M}</td><td>{it.index}</td><td>{html.escape(d.by)}</td><td>{html.escape(d.via)}"
        f"</td><td><b>{d.action}</b></td><td>{show(d.rejected)}</td><td>{show(d.added)}</td>"
        f"<td>{'—' if d.batch_size is None else d.batch_size}</td><td>{html.escape('; '.join(f'{t}: {r}' for t, r in d.refused.items()))}"
        f"</td><td>{html.escape(d.comment)}</td></tr>" for d, it in decisions)
    note = (f"<p><b>Batch {waiting.index} is waiting for approval</b> (<code>amala pending</code>, "
            f"<code>amala approve</code>).</p>" if waiting is not None else "")
    header = ("<th>time (UTC)</th><th>iteration</th><th>by</th><th>via</th><th>decision</th><th>rejected</th>"
              "<th>added</th><th>batch size</th><th>refused</th><th>comment</th>")
    return f"<h2>Approvals ({len(decisions)})</h2>{note}{_table(header, rows)}"


def _top_table(ranked, selections: dict, objective: Objective) -> str:
    """The best candidates: every summary property with its unit, the prediction at selection."""
    properties = sorted({p for _, e in ranked for p in e.values if not md_figures.is_per_temperature(p)})
    units = {p: e.values[p]["unit"] for _, e in ranked for p in e.values if p in properties}
    unit = objective.label.rsplit("[", 1)[-1].rstrip("]") if "[" in objective.label else ""
    drawings = any(c.kind == "smiles" for c, _ in ranked)  # a structure column only for molecules
    header = ("<th>#</th>" + ("<th>structure</th>" if drawings else "") + "<th>candidate</th>"
              + _unit_header("objective", unit)
              + "".join(_unit_header(p, units[p]) for p in properties)
              + "<th>proposed by</th><th>iteration (strategy; approval)</th>" + _unit_header("prediction", unit)
              + "<th>acquisition</th><th>oracle</th>")
    rows = "".join(_top_row(rank, c, e, selections.get(c.key, (None, None)), properties, drawings)
                   for rank, (c, e) in enumerate(ranked, 1))
    return _table(header, rows)


def _top_row(rank: int, c, e, selected, properties, drawings: bool) -> str:
    it, sel = selected
    pred = "—" if sel is None or sel.predicted_mean is None else \
        f"{sel.predicted_mean:.3f} ± {sel.predicted_std:.3f}"
    acq = "—" if sel is None or sel.acquisition_value is None else f"{sel.acquisition_value:.3g}"
    cells = "".join(f'<td class="num">{_measurement(e.values[p])}</td>' if p in e.values else "<td>—</td>"
                    for p in properties)
    drawing = f"<td>{_svg(c.representation) if c.kind == 'smiles' else ''}</td>" if drawings else ""
    batch = "" if it is None else f"{it.index} ({html.escape(it.strategy)})"
    approval = "" if sel is None or sel.approval == "auto" else "; " + sel.approval
    return (f"<tr><td>{rank}</td>{drawing}<td>{_candidate_html(c.representation, c.kind)}</td>"
            f"<td><b>{e.objective:.3f}</b></td>{cells}<td>{html.escape(c.agent)}</td><td>{batch}{approval}</td>"
            f'<td class="num">{pred}</td><td>{acq}</td>'
            f"<td>{html.escape(e.oracle)}/{html.escape(e.fidelity)}</td></tr>")


def _failures_section(failures) -> str:
    rows = "".join(f"<tr><td>{_candidate_html(c.representation, c.kind)}</td><td>{html.escape(e.reason or '')}"
                   f"</td></tr>" for c, e in failures[:200])
    return f"<h2>Failed evaluations ({len(failures)})</h2>" + _table("<th>candidate</th><th>reason</th>", rows)


_CANONICAL_COMPOSITION = re.compile(r"[A-Z][A-Za-z0-9]*:\d\.\d{6}(?:;[A-Z][A-Za-z0-9]*:\d\.\d{6})*")


def _readable(message: str) -> str:
    """An event message with any stored composition spelling written as a person would."""
    return _CANONICAL_COMPOSITION.sub(lambda m: format_composition(m.group(0)), message)


def _events_section(store: Store, campaign_id: int) -> str:
    rows = "".join(f"<tr><td>{ev.time:%Y-%m-%d %H:%M:%S}</td><td>{ev.level}</td><td>{html.escape(ev.kind)}</td>"
                   f"<td>{html.escape(_readable(ev.message))}</td></tr>" for ev in store.events(campaign_id)[-30:])
    return "<h2>Recent events</h2>" + _table("<th>time (UTC)</th><th>level</th><th>kind</th><th>message</th>", rows)


def _caveats(evaluations) -> str:
    texts = sorted({e.provenance["caveat"] for _, e in evaluations if (e.provenance or {}).get("caveat")})
    return "".join(f'<p class="caveat"><b>Read first:</b> {html.escape(t)}</p>' for t in texts)


def _winners(ranked) -> str:
    if not ranked:
        return ""
    winners = Counter(c.agent for c, _ in ranked[:10])
    return (f"<p>Winners by agent (top {min(10, len(ranked))}): "
            + ", ".join(f"{html.escape(a)} {n}" for a, n in winners.most_common()) + "</p>")


# --- the page -----------------------------------------------------------------------------------

def write_report(store: Store, campaign: CampaignRow, objective: Objective, out_dir: Path,
                 pool_values: np.ndarray | None = None, top_k: int = 20) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    evaluations = store.evaluations(campaign.id)
    selections = {c.key: (it, sel) for it, sel, c in store.selections(campaign.id)}
    values = np.array([e.objective if e.objective is not None else np.nan for _, e in evaluations])
    _best_so_far_figure(values, objective, campaign.name, pool_values, out_dir / "best_so_far.png")
    pairs = [(selections[c.key][1], e) for c, e in evaluations
             if e.objective is not None and c.key in selections and selections[c.key][1].predicted_mean is not None]
    inside = _prediction_figure(pairs, objective, out_dir / "prediction_vs_result.png")
    ranked = sorted(((c, e) for c, e in evaluations if e.objective is not None),
                    key=lambda ce: objective.sign * ce[1].objective, reverse=True)[:top_k]
    failures = [(c, e) for c, e in evaluations if e.status != "ok"]
    best_text = "—" if not ranked else f"{ranked[0][1].objective:.3f} ({objective.label})"
    uncertainty_note = ("Lookup values are published MD results; the source reports no per-value uncertainty, "
                        "so none is shown for them." if any(e.oracle == "lookup" for _, e in evaluations) else "")
    calibration = "" if inside is None else f"<p>{inside:.0%} of measured values fell within the model's ±1 std " \
                                            f"at selection (≈68% expected for a calibrated model).</p>"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>amala report: {html.escape(campaign.name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style>
</head><body>
<h1>Campaign {html.escape(campaign.name)}</h1>
<p>Status: <b>{html.escape(campaign.status)}</b> · evaluations: {len(evaluations)} ({len(failures)} failed) ·
best: <b>{html.escape(best_text)}</b> · report written {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}</p>
{_provenance_section(campaign)}
{_caveats(evaluations)}
<img src="best_so_far.png" alt="best so far">
{'<img src="prediction_vs_result.png" alt="prediction vs result">' if pairs else ''}
{calibration}
{_md_section(ranked, out_dir)}
<h2>Top {len(ranked)} candidates</h2>
{_winners(ranked)}
<p>Objective column: {html.escape(objective.label)}. Prediction: the surrogate's mean ± std of the objective when the
candidate was selected. Acquisition: the value of the acquisition function when picked (for qLogNEI the
natural log of the expected improvement, for greedy the predicted mean). {uncertainty_note}</p>
{_top_table(ranked, selections, objective)}
{_decisions_section(store, campaign.id)}
{_failures_section(failures)}
{_events_section(store, campaign.id)}
</body></html>"""
    path = out_dir / "report.html"
    path.write_text(page)
    return path
