"""Markdown tables for docs/benchmarks.md from the JSON files in benchmarks/results/.

    .venv/bin/python benchmarks/report.py > /tmp/tables.md

Only reads results; every number comes from a run recorded there (with its time and load).
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
BUDGETS = (30, 60, 120)
LABELS = {"n2v": "N2V", "n2v2": "N2V2", "hqssl": "HQ-SSL (noise auto)", "hqssl-true": "HQ-SSL (true noise model)"}


def _runs(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text())["runs"] if path.exists() else {}


def _cases(methods: dict, baselines: dict) -> list[str]:
    seen = [key.split("/")[1] for key in methods] + [key.split("/")[0] for key in baselines]
    return list(dict.fromkeys(seen))


def baselines_table(baselines: dict) -> list[str]:
    rows = ["| case | noisy dB | NLM dB (s) | BM3D dB (s) | peak MiB NLM / BM3D |", "|---|---|---|---|---|"]
    for case in dict.fromkeys(key.split("/")[0] for key in baselines):
        nlm, bm3d = baselines.get(f"{case}/nlm"), baselines.get(f"{case}/bm3d")
        if not (nlm and bm3d):
            continue
        rows.append(f"| {case} | {nlm['noisy_psnr_db']:.2f} | {nlm['psnr_db']:.2f} ({nlm['wall_s']:.1f}) | "
                    f"{bm3d['psnr_db']:.2f} ({bm3d['wall_s']:.1f}) | {nlm['peak_rss_mib']:.0f} / {bm3d['peak_rss_mib']:.0f} |")
    return rows


def methods_table(methods: dict, baselines: dict) -> list[str]:
    rows = ["| case | method | 30 s | 60 s | 120 s | steps/s | outside fwd/bwd | peak MiB |",
            "|---|---|---|---|---|---|---|---|"]
    for case in _cases(methods, baselines):
        for method, label in LABELS.items():
            found = {b: methods.get(f"{method}/{case}/{b}") for b in BUDGETS}
            if not any(found.values()):
                continue
            cells = [f"{r['psnr_db']:.2f}" if r else "" for r in found.values()]
            last = next(r for r in reversed(list(found.values())) if r)
            rows.append(f"| {case} | {label} | {' | '.join(cells)} | {last['steps_per_s']:.2f} | "
                        f"{100 * last['outside_network_share']:.1f} % | {last['peak_rss_mib']:.0f} |")
        for method in ("nlm", "bm3d"):
            r = baselines.get(f"{case}/{method}")
            if r:
                rows.append(f"| {case} | {method.upper()} | {r['psnr_db']:.2f} ({r['wall_s']:.1f} s) | | | | | |")
    return rows


def careamics_table(careamics: dict, methods: dict) -> list[str]:
    rows = ["| case | careamics 1000 steps dB | careamics train s | our N2V: first budget reaching it | share of careamics' time |",
            "|---|---|---|---|---|"]
    for case, peer in careamics.items():
        ours = [(b, methods.get(f"n2v/{case}/{b}")) for b in (30, 60, 90, 120)]  # 90 s: brick only
        reached = next(((b, r) for b, r in ours if r and r["psnr_db"] >= peer["psnr_db"]), None)
        if reached:
            budget, r = reached
            cell = f"{budget} s ({r['psnr_db']:.2f} dB, {r['train_s']:.0f} s wall)"
            share = f"{r['train_s'] / peer['train_s']:.2f}"
        else:
            best = max((r["psnr_db"] for _, r in ours if r), default=float("nan"))
            cell, share = f"not within 120 s (best {best:.2f} dB)", "-"
        rows.append(f"| {case} | {peer['psnr_db']:.2f} | {peer['train_s']:.0f} | {cell} | {share} |")
    return rows


def hqssl_targets(methods: dict, baselines: dict) -> list[str]:
    rows = ["| case | HQ-SSL auto 120 s | NLM | BM3D | HQ-SSL - BM3D | N2V 120 s | HQ-SSL - N2V | noise: learned / true |",
            "|---|---|---|---|---|---|---|---|"]
    gaps = []
    for case in _cases(methods, baselines):
        hq, n2v = methods.get(f"hqssl/{case}/120"), methods.get(f"n2v/{case}/120")
        nlm, bm3d = baselines.get(f"{case}/nlm"), baselines.get(f"{case}/bm3d")
        if not (hq and nlm and bm3d):
            continue
        gaps.append(hq["psnr_db"] - bm3d["psnr_db"])
        vs_n2v = f"{hq['psnr_db'] - n2v['psnr_db']:+.2f}" if n2v else ""
        rows.append(f"| {case} | {hq['psnr_db']:.2f} | {nlm['psnr_db']:.2f} | {bm3d['psnr_db']:.2f} | "
                    f"{gaps[-1]:+.2f} | {n2v['psnr_db'] if n2v else '':} | {vs_n2v} | {_noise(hq)} |")
    if gaps:
        rows.append(f"\nMean HQ-SSL - BM3D over {len(gaps)} cases: {sum(gaps) / len(gaps):+.2f} dB")
    return rows


def _noise(run: dict) -> str:
    learned, true = run.get("noise_learned") or {}, run.get("noise_true") or {}
    if "read_sigma" in learned and "sigma" in true:
        return f"read sigma {learned['read_sigma'][0]:.1f}, gain {learned['gain'][0]:.2f} / sigma {true['sigma']:g}"
    if "gain" in learned:
        offset = learned.get("offset", [0])[0]
        return f"gain {learned['gain'][0]:.2f}, offset {offset:.1f} / gain {true.get('gain')}, read sigma {true.get('read_sigma')}"
    return ""


def curves_table(curves: dict, baselines: dict) -> list[str]:
    """PSNR along each run (one view), its end with the package's views, the best point, and the
    held-out estimate beside the truth; beside NLM, BM3D (and BM4D on the stack)."""
    runs = [r for r in curves.values() if isinstance(r, dict) and "points" in r]
    stops = sorted({p["at_s"] for r in runs for p in r["points"]})
    rows = ["| case | method | " + " | ".join(f"{t:g} s" for t in stops) + " | end, views | end - best "
            "| estimated / true gain | steps/s |", "|---|---|" + "---|" * (len(stops) + 4)]
    for case in dict.fromkeys(r["case"] for r in runs):
        for run in (r for r in runs if r["case"] == case):
            at = {p["at_s"]: p["psnr_db"] for p in run["points"]}
            best = max(at.values())
            rows.append(f"| {case} | {LABELS.get(run['method'], run['method'])} | "
                        + " | ".join(f"{at[t]:.2f}" if t in at else "" for t in stops)
                        + f" | {run['psnr_db']:.2f} | {run['psnr_one_view_db'] - best:+.2f} | "
                        f"{run['estimated_gain_db']:.2f} / {run['true_gain_one_view_db']:.2f} | {run['steps_per_s']} |")
        classical = ", ".join(f"{name.upper()} {baselines[f'{case}/{name}']['psnr_db']:.2f}"
                              for name in ("nlm", "bm3d", "bm4d") if f"{case}/{name}" in baselines)
        rows.append(f"| {case} | {classical} |" + " |" * (len(stops) + 4))
    return rows


def main() -> None:
    methods, baselines, careamics = _runs("methods"), _runs("baselines"), _runs("careamics")
    for title, rows in (("Classical baselines", baselines_table(baselines)),
                        ("Our methods at fixed budgets (PSNR dB)", methods_table(methods, baselines)),
                        ("careamics peer", careamics_table(careamics, methods)),
                        ("HQ-SSL targets", hqssl_targets(methods, baselines)),
                        ("PSNR against training seconds", curves_table(_runs("curves"), baselines))):
        print(f"### {title}\n")
        print("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
