"""Turn a suite's results into ``results.json``, ``results.md`` (Markdown tables) and
``results.png`` (quality against training time).

The Markdown is generated from the same dict that is written as JSON, so every number in the
tables is a rounded JSON value (tested).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional

from ..files import write_text_atomically

#: the quality columns of each family's table, with their headers
QUALITY_COLUMNS = {
    "ctr": [("auc", "AUC"), ("gauc", "GAUC"), ("logloss", "logloss")],
    "next_item": [("hr@10", "HR@10"), ("ndcg@10", "NDCG@10"), ("hr@20", "HR@20"), ("ndcg@20", "NDCG@20")],
    "p5": [("hr@5", "HR@5"), ("ndcg@5", "NDCG@5"), ("hr@10", "HR@10"), ("ndcg@10", "NDCG@10")],
}
FAMILY_TITLES = {
    "ctr": "CTR models (held-out test samples: each user's last interaction + 1 sampled negative)",
    "next_item": "Next-item models (leave-one-out, full ranking over all items, history masked, pessimistic ties)",
    "p5": "P5 (leave-one-out, constrained beam search over all items, seen items not excluded)",
}
#: the metric on the y axis of the chart, per family
CHART_METRIC = {"ctr": ("auc", "test AUC"), "next_item": ("ndcg@10", "test NDCG@10"), "p5": ("ndcg@10", "test NDCG@10")}


def _number(value: Optional[float], digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _count(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _seconds(value: Optional[float]) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def _length(settings: dict[str, Any]) -> str:
    if settings.get("max_steps", -1) and settings.get("max_steps", -1) > 0:
        return f"{settings['max_steps']} steps"
    return f"{settings.get('epochs', 0):g} ep"


def machine_line(machine: dict[str, Any]) -> str:
    load = machine.get("load_average")
    load_end = machine.get("load_average_end")
    text = (f"{machine.get('cpu')}, {machine.get('usable_cores')} usable cores, {machine.get('memory_gb')} GB RAM, "
            f"torch {machine.get('torch')}, transformers {machine.get('transformers')}, "
            f"{machine.get('threads')} torch thread(s)")
    if load:
        text += f"; load average {load[0]:.1f} at the start"
        if load_end:
            text += f", {load_end[0]:.1f} at the end"
    return text


def _family_table(family: str, rows: list[dict[str, Any]]) -> list[str]:
    columns = QUALITY_COLUMNS[family]
    train_unit, eval_unit = rows[0]["train_unit"], rows[0]["eval_unit"]
    header = (["model", "training"] + [title for _, title in columns]
              + [f"train {train_unit}/s", f"eval {eval_unit}/s", "train time", "peak RSS (MB)", "parameters"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        quality = row["quality"]
        lines.append("| " + " | ".join(
            [row["name"], _length(row["settings"])] + [_number(quality.get(key)) for key, _ in columns]
            + [_count(row.get("train_per_s")), _count(row.get("eval_per_s")), _seconds(row.get("train_runtime_s")),
               _count(row.get("peak_rss_mb")), _count(row.get("parameters"))]) + " |")
    baseline = rows[0].get("baseline") or {}
    if any(v is not None for v in baseline.values()):
        lines.append("| " + " | ".join(["popularity (same test samples)", "–"]
                                        + [_number(baseline.get(key)) for key, _ in columns]
                                        + ["–"] * 5) + " |")
    return lines


def _published_lines(family: str, published: list[dict[str, Any]]) -> list[str]:
    entries = [p for p in published if p.get("family") == family]
    if not entries:
        return []
    columns = QUALITY_COLUMNS[family]
    lines = ["", "Published figures, same protocol:", "",
             "| published | " + " | ".join(title for _, title in columns) + " | source |",
             "|---|" + "---|" * (len(columns) + 1)]
    for p in entries:
        lines.append(f"| {p['model']} | " + " | ".join(_number(p.get(key), 4) if p.get(key) is not None else "–"
                                                      for key, _ in columns) + f" | {p['source']} |")
    return lines


def _efficiency_lines(rows: list[dict[str, Any]]) -> list[str]:
    measured = [r for r in rows if r.get("efficiency")]
    if not measured:
        return []
    lines = [
        "",
        "One training step (forward + backward + AdamW) on a real batch: FLOPs counted with "
        "`torch.utils.flop_counter.FlopCounterMode` (matrix products, convolutions, attention), "
        "median step time, and the float32 matmul peak measured in the same process with the same "
        "thread count, for the step's dominant product shape and for 1024³.",
        "",
        "| model | GFLOP/step | step (ms) | achieved GFLOP/s | dominant product (share of FLOPs) | "
        "its matmul GFLOP/s | achieved / its peak | 1024³ GFLOP/s | time in matrix kernels | largest other costs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in measured:
        e = row["efficiency"]
        gemm = e.get("dominant_gemm")
        shape = "–"
        if gemm:
            shape = (f"{gemm['batch']}×" if gemm["batch"] else "") + f"{gemm['m']}×{gemm['k']}×{gemm['n']}"
            shape += f" ({100 * gemm['flop_share']:.0f}%)"
        fraction = e.get("fraction_of_matmul_peak")
        others = ", ".join(f"{name} {100 * share:.0f}%" for name, share in (e.get("top_other_operators") or [])[:3])
        share = e.get("gemm_time_share")
        lines.append(
            f"| {row['name']} | {e['flops_per_step'] / 1e9:.3f} | {e['step_ms']:.1f} | {e['achieved_gflops']:.2f} | {shape} | "
            f"{_number(e.get('matmul_peak_gflops'), 1)} | {'–' if fraction is None else f'{100 * fraction:.0f}%'} | "
            f"{_number(e.get('matmul_1024_gflops'), 1)} | {'–' if share is None else f'{100 * share:.0f}%'} | {others} |"
        )
    return lines


def _scale_lines(scale: list[dict[str, Any]]) -> list[str]:
    from .data_scale import linear_fit

    if not scale:
        return []
    lines = [
        "Data conversion of a synthetic MovieLens-format `ratings.dat` (read, sort + split + encode, "
        "CTR train and test datasets with seeded negatives), one process per size; the log is "
        "written by another process. CPU seconds are this process's (on a shared machine they "
        "track the work; wall seconds track the load).",
        "",
        "| interactions | read (s) | prepare (s) | CTR datasets (s) | total (s) | total CPU (s) | "
        "peak RSS (MB) | RSS before reading (MB) | CPU s per million | MB per million (peak above start) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    measured = []
    for row in scale:
        if "error" in row or "skipped" in row:
            lines.append(f"| {row['interactions']:,} | {row.get('error') or row.get('skipped')} |||||||||")
            continue
        measured.append(row)
        millions = row["interactions"] / 1e6
        cpu_per_million = row["total_cpu_s"] / millions if row.get("total_cpu_s") is not None else None
        memory_per_million = (row["peak_rss_mb"] - row.get("baseline_rss_mb", 0.0)) / millions
        lines.append(
            f"| {row['interactions']:,} | {row['read_s']:.2f} | {row['prepare_s']:.2f} | {row['ctr_datasets_s']:.2f} | "
            f"{row['total_s']:.2f} | {_number(row.get('total_cpu_s'), 2)} | {row['peak_rss_mb']:,.0f} | "
            f"{_count(row.get('baseline_rss_mb'))} | {_number(cpu_per_million, 2)} | {memory_per_million:,.0f} |"
        )
    if len(measured) >= 3:  # with two sizes the line passes through both: read the per-million columns
        lines.append("")
        for key, what, unit in (("total_s", "wall time", "s"), ("total_cpu_s", "CPU time", "s"),
                                ("peak_rss_mb", "peak RSS", "MB")):
            if all(key in r for r in measured):
                fit = linear_fit(measured, key)
                lines.append(f"- {what}: {fit['per_million']:,.1f} {unit} per million interactions "
                             f"(linear fit, intercept {fit['intercept']:,.1f} {unit}, largest deviation "
                             f"from the line {100 * fit['max_relative_residual']:.0f}%)")
    return lines


def format_markdown(results: dict[str, Any]) -> str:
    """The Markdown report: command, machine, one table per model family (+ published figures),
    the FLOP-efficiency table and the data-scale table."""
    lines = [f"Suite `{results.get('suite')}`"
             + (f", commit {results['git_commit']}" if results.get("git_commit") else "")
             + (f", started {results['started_utc']} UTC" if results.get("started_utc") else "")
             + (f", wall time {_seconds(results.get('wall_s'))}" if results.get("wall_s") is not None else "")
             + (f" (CPU time of the model processes {_seconds(results['cpu_s'])})" if results.get("cpu_s") else "")
             + "."]
    if results.get("command"):
        lines += ["", "```bash", results["command"], "```"]
    lines += ["", f"Machine: {machine_line(results.get('machine', {}))}."]
    if results.get("models"):
        lines[-1] += (" Each model ran in its own process (peak RSS is that process's, data included). "
                      "Throughput includes data loading (`Trainer`); on a shared machine it is noisy.")
    models = [r for r in results.get("models", []) if "error" not in r]
    for family in ("ctr", "next_item", "p5"):
        rows = [r for r in models if r["family"] == family]
        if rows:
            lines += ["", f"**{FAMILY_TITLES[family]}**", ""] + _family_table(family, rows)
            lines += _published_lines(family, results.get("published", []))
    failed = [r for r in results.get("models", []) if "error" in r]
    if failed:
        lines += [""] + [f"- {r['name']}: failed ({r['error']})" for r in failed]
    lines += _efficiency_lines(models)
    scale = _scale_lines(results.get("scale", []))
    if scale:
        lines += [""] + scale
    return "\n".join(lines) + "\n"


def plot_quality_vs_time(results: dict[str, Any], path: str) -> bool:
    """Write a PNG of quality against training time (one panel per model family); False when
    matplotlib is missing or there is nothing to plot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return False
    models = [r for r in results.get("models", []) if "error" not in r and r.get("train_runtime_s")]
    families = [f for f in ("ctr", "next_item", "p5") if any(r["family"] == f for r in models)]
    if not families:
        return False
    figure, axes = plt.subplots(1, len(families), figsize=(5.5 * len(families), 4.2), squeeze=False)
    for axis, family in zip(axes[0], families):
        key, label = CHART_METRIC[family]
        rows = [r for r in models if r["family"] == family and r["quality"].get(key) is not None]
        for row in rows:
            axis.scatter(row["train_runtime_s"], row["quality"][key], s=40)
            axis.annotate(row["name"], (row["train_runtime_s"], row["quality"][key]), textcoords="offset points",
                          xytext=(5, 4), fontsize=9)
        baseline = rows[0].get("baseline", {}).get(key) if rows else None
        if baseline is not None:
            axis.axhline(baseline, color="grey", linestyle="--", linewidth=1, label="popularity")
        for published in results.get("published", []):
            if published.get("family") == family and published.get(key) is not None:
                axis.axhline(published[key], color="tab:red", linestyle=":", linewidth=1)
                axis.annotate(published["model"], (axis.get_xlim()[0], published[key]), fontsize=7, color="tab:red",
                              textcoords="offset points", xytext=(2, 2))
        times = [row["train_runtime_s"] for row in rows]
        # log scale only when the times span a decade; plain tick labels either way
        log_scale = bool(times) and max(times) / max(min(times), 1e-9) >= 10
        if log_scale:
            axis.set_xscale("log")
            axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
            axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.set_xlabel("training time (s, log scale)" if log_scale else "training time (s)")
        axis.set_ylabel(label)
        axis.set_title(FAMILY_TITLES[family].split(" (")[0])
        axis.grid(True, alpha=0.3)
        if baseline is not None:
            axis.legend(loc="lower right", fontsize=8)
    machine = results.get("machine", {})
    figure.suptitle(f"suite {results.get('suite')}: quality vs training time "
                    f"({machine.get('threads')} thread(s), {machine.get('cpu', '')[:40]})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_report(results: dict[str, Any], output_dir: str, echo: Callable[[str], None] = print) -> dict[str, str]:
    """Write ``results.json``, ``results.md`` and (with matplotlib) ``results.png``; returns the
    paths written."""
    os.makedirs(output_dir, exist_ok=True)
    paths = {"json": os.path.join(output_dir, "results.json"), "markdown": os.path.join(output_dir, "results.md")}
    write_text_atomically(paths["json"], json.dumps(results, indent=2, default=float))
    markdown = format_markdown(results)
    write_text_atomically(paths["markdown"], markdown)
    if results.get("models"):
        png = os.path.join(output_dir, "results.png")
        if plot_quality_vs_time(results, png):
            paths["png"] = png
        else:
            echo("[benchmark] matplotlib is not installed (pip install -e '.[bench]'): wrote results.json and "
                 "results.md but no chart")
    echo(markdown)
    echo(f"[benchmark] wrote {', '.join(paths.values())}")
    return paths


__all__ = ["format_markdown", "plot_quality_vs_time", "write_report", "machine_line"]
