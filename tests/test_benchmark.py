"""The benchmark suite: FLOP counting, the report writer, a two-model suite end to end."""

import builtins
import json
import os
import re

import pytest
import torch
import torch.nn.functional as F

from hf_recsys.benchmarks.data_scale import linear_fit
from hf_recsys.benchmarks.flops import count_training_flops, matmul_gflops
from hf_recsys.benchmarks.report import format_markdown, plot_quality_vs_time, write_report
from hf_recsys.benchmarks.suite import ModelRun, run_suite


class _LinearLoss(torch.nn.Module):
    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.linear = torch.nn.Linear(d_in, d_out)

    def forward(self, x):
        return {"loss": self.linear(x).sum()}


def test_flops_of_a_linear_layer():
    batch, d_in, d_out = 8, 16, 4
    model = _LinearLoss(d_in, d_out)
    count = count_training_flops(model, {"x": torch.randn(batch, d_in)})
    assert count.forward == 2 * batch * d_in * d_out
    # the input needs no gradient: the backward pass forms only the weight gradient
    assert count.backward == 2 * batch * d_in * d_out
    assert model.linear.weight.grad is not None

    count = count_training_flops(model, {"x": torch.randn(batch, d_in, requires_grad=True)})
    assert count.backward == 2 * count.forward  # input and weight gradients
    assert count.total == 3 * 2 * batch * d_in * d_out
    assert count.dominant_gemm() in {(0, batch, d_in, d_out), (0, d_out, batch, d_in), (0, batch, d_out, d_in)}
    assert sum(count.gemm_shapes.values()) == count.total


def test_in_place_accumulating_products_are_counted():
    class Accumulate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(5, 3))

        def forward(self, x):
            total = torch.zeros(4, 3)
            total.addmm_(x, self.weight)  # what chunked losses and fused GRUs do
            return {"loss": total.sum()}

    count = count_training_flops(Accumulate(), {"x": torch.randn(4, 5)})
    assert count.forward == 2 * 4 * 5 * 3


def test_cpu_attention_is_counted():
    class Attention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(8))

        def forward(self, q):
            q = q * self.scale
            mask = torch.ones(10, 10, dtype=torch.bool).tril()
            return {"loss": F.scaled_dot_product_attention(q, q, q, attn_mask=mask).sum()}

    b, h, length, d = 2, 3, 10, 8
    count = count_training_flops(Attention(), {"q": torch.randn(b, h, length, d)})
    # QK^T and AV: two products of 2*b*h*L*L*d each (torch's SDPA formula)
    assert count.forward == 4 * b * h * length * length * d
    assert count.backward > count.forward


def test_matmul_gflops_is_positive():
    assert matmul_gflops(0, 32, 32, 32, min_seconds=0.01, repeats=1) > 0
    assert matmul_gflops(2, 16, 8, 16, min_seconds=0.01, repeats=1) > 0


def test_linear_fit_per_million():
    rows = [{"interactions": n, "peak_rss_mb": 400 + 600 * n / 1e6} for n in (1_000_000, 10_000_000, 20_000_000)]
    fit = linear_fit(rows, "peak_rss_mb")
    assert fit["per_million"] == pytest.approx(600)
    assert fit["intercept"] == pytest.approx(400)
    assert fit["max_relative_residual"] == pytest.approx(0, abs=1e-9)


def _fake_results():
    def row(name, family, quality, baseline, train_per_s, eval_per_s, runtime, rss):
        return {
            "name": name, "model": name, "family": family, "dataset": "synthetic",
            "settings": {"epochs": 1.0, "max_steps": -1}, "quality": quality, "baseline": baseline,
            "train_runtime_s": runtime, "train_per_s": train_per_s, "eval_per_s": eval_per_s,
            "train_unit": "samples" if family == "ctr" else "sequences",
            "eval_unit": "samples" if family == "ctr" else "users", "peak_rss_mb": rss, "parameters": 1234,
            "efficiency": {"flops_per_step": 2.5e9, "step_ms": 100.0, "achieved_gflops": 25.0,
                           "dominant_gemm": {"batch": 0, "m": 256, "k": 64, "n": 64, "flop_share": 0.5},
                           "matmul_peak_gflops": 50.0, "fraction_of_matmul_peak": 0.5, "matmul_1024_gflops": 60.0,
                           "gemm_time_share": 0.4, "top_other_operators": [["add", 0.1]]},
        }

    return {
        "suite": "test", "command": "python scripts/benchmark.py --suite test",
        "machine": {"cpu": "Test CPU", "usable_cores": 2, "memory_gb": 8, "torch": "2", "transformers": "5", "threads": 1},
        "models": [
            row("alpha", "ctr", {"auc": 0.81234, "gauc": 0.79876, "logloss": 0.45678},
                {"auc": 0.7, "gauc": 0.69, "logloss": 0.6}, 12345.6, 23456.7, 12.0, 512.3),
            row("beta", "next_item", {"hr@10": 0.12345, "ndcg@10": 0.06789, "hr@20": 0.2, "ndcg@20": 0.1},
                {"hr@10": 0.01, "ndcg@10": 0.005, "hr@20": 0.02, "ndcg@20": 0.008}, 456.7, 1500.2, 65.0, 900.0),
        ],
        "scale": [],
        "published": [{"model": "paper", "family": "next_item", "hr@10": 0.0605, "ndcg@10": 0.0318, "source": "a paper"}],
    }


def _table_rows(markdown: str, first_cell: str) -> list[str]:
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row starting with {first_cell!r}")


def test_report_numbers_match_the_json(tmp_path):
    results = _fake_results()
    paths = write_report(results, str(tmp_path), echo=lambda _: None)
    with open(paths["json"]) as f:
        saved = json.load(f)
    markdown = open(paths["markdown"]).read()
    assert markdown == format_markdown(saved)
    assert "python scripts/benchmark.py --suite test" in markdown and "Test CPU" in markdown

    alpha = next(r for r in saved["models"] if r["name"] == "alpha")
    cells = _table_rows(markdown, "alpha")
    assert [float(c) for c in cells[2:5]] == [round(alpha["quality"][k], 4) for k in ("auc", "gauc", "logloss")]
    assert int(cells[5].replace(",", "")) == round(alpha["train_per_s"])
    assert int(cells[6].replace(",", "")) == round(alpha["eval_per_s"])
    assert int(cells[8].replace(",", "")) == round(alpha["peak_rss_mb"])

    beta = next(r for r in saved["models"] if r["name"] == "beta")
    cells = _table_rows(markdown, "beta")
    assert [float(c) for c in cells[2:6]] == [round(beta["quality"][k], 4) for k in ("hr@10", "ndcg@10", "hr@20", "ndcg@20")]
    baseline = _table_rows(markdown, "popularity (same test samples)")
    assert float(baseline[2]) == round(alpha["baseline"]["auc"], 4)
    published = _table_rows(markdown, "paper")
    assert float(published[2]) == 0.0318 and published[-1] == "a paper"
    efficiency = [line for line in markdown.splitlines() if line.startswith("| alpha |")][-1]
    assert "25.00" in efficiency and "50%" in efficiency  # achieved GFLOP/s and its share of the peak


def test_report_without_matplotlib(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    messages = []
    paths = write_report(_fake_results(), str(tmp_path), echo=messages.append)
    assert set(paths) == {"json", "markdown"}
    assert os.path.exists(paths["json"]) and os.path.exists(paths["markdown"])
    assert not os.path.exists(tmp_path / "results.png")
    assert any("matplotlib is not installed" in m for m in messages)
    assert plot_quality_vs_time(_fake_results(), str(tmp_path / "x.png")) is False


def test_micro_suite_end_to_end(tmp_path):
    tiny = dict(synthetic_users=60, synthetic_items=64, max_history=10, batch_size=32, max_steps=3, efficiency_seconds=0.2)
    runs = [ModelRun("sumpool", "sumpool", **tiny), ModelRun("sasrec", "sasrec", overrides={"hidden_size": 16}, **tiny)]
    results = run_suite("micro", str(tmp_path), runs=runs, threads=1, echo=lambda _: None)

    assert os.path.exists(tmp_path / "results.json") and os.path.exists(tmp_path / "results.md")
    try:
        import matplotlib  # noqa: F401

        assert os.path.getsize(tmp_path / "results.png") > 0
    except ImportError:
        pass
    with open(tmp_path / "results.json") as f:
        saved = json.load(f)
    assert saved["machine"]["threads"] == 1 and saved["machine"]["torch"] == torch.__version__
    rows = {r["name"]: r for r in saved["models"]}
    assert set(rows) == {"sumpool", "sasrec"}, [r.get("error") for r in saved["models"]]
    assert 0.0 <= rows["sumpool"]["quality"]["auc"] <= 1.0
    assert 0.0 <= rows["sasrec"]["quality"]["ndcg@10"] <= rows["sasrec"]["quality"]["hr@10"] <= 1.0
    for row in rows.values():
        assert row["peak_rss_mb"] > 0 and row["train_per_s"] > 0 and row["eval_per_s"] > 0
        efficiency = row["efficiency"]
        assert efficiency["flops_per_step"] == efficiency["flops_forward"] + efficiency["flops_backward"] > 0
        assert efficiency["achieved_gflops"] > 0 and efficiency["matmul_peak_gflops"] > 0
    markdown = (tmp_path / "results.md").read_text()
    assert re.search(r"\| sasrec \| 3 steps \| " + re.escape(f"{rows['sasrec']['quality']['hr@10']:.4f}"), markdown)
    assert results["wall_s"] > 0


def test_speed_bench_device_options_refuse_what_does_not_apply(monkeypatch):
    """``--fp16`` needs CUDA, a missing GPU is named, and on CUDA a CPU-only option is refused
    (not silently ignored) with the reason given by the script."""
    import argparse

    import torch

    from hf_recsys.benchmarks.device import add_device_arguments, check_device

    parser = argparse.ArgumentParser(prog="bench")
    add_device_arguments(parser)
    parser.add_argument("--threads", type=int, default=None)

    def error_of(argv):
        with pytest.raises(SystemExit):
            check_device(parser, parser.parse_args(argv), cpu_only={"threads": "sets CPU threads"})

    assert check_device(parser, parser.parse_args(["--bf16", "--threads", "2"])) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    error_of(["--fp16"])
    error_of(["--device", "cuda"])
    error_of(["--device", "tpu"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert check_device(parser, parser.parse_args(["--device", "cuda", "--fp16"])) == torch.device("cuda", 0)
    error_of(["--device", "cuda", "--threads", "2"])


def test_speed_bench_training_step_trains_in_each_precision():
    import torch

    from hf_recsys.benchmarks.device import training_step

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(8, 1)

        def forward(self, x, y):
            return type("Out", (), {"loss": torch.nn.functional.mse_loss(self.linear(x).squeeze(-1).float(), y)})()

    torch.manual_seed(0)
    batch = {"x": torch.randn(64, 8), "y": torch.randn(64)}
    for bf16 in (False, True):
        model = Tiny()
        step = training_step(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.device("cpu"), bf16=bf16)
        losses = [step(batch).item() for _ in range(20)]
        assert losses[-1] < losses[0] * 0.8  # the optimizer really stepped


def test_ctr_comparison_trains_fnn_from_the_fm_before_it_and_writes_one_table(tmp_path):
    """``scripts/compare_ctr.py`` / ``compare_classic.py``: every model on the same held-out
    samples (one popularity row), FNN initialised from the FM trained just before it and said so,
    and the JSON and Markdown written from the same rows."""
    from hf_recsys.benchmarks.ctr_comparison import compare_ctr_models, write_comparison

    fields = dict(dataset="synthetic", synthetic_users=40, synthetic_items=30, max_steps=3, batch_size=64,
                  max_history=8, eval_each_epoch=False)
    rows, baseline, _ = compare_ctr_models(["fnn", "fm", "fnn"], str(tmp_path), **fields)
    assert [row["model"] for row in rows] == ["fnn", "fm", "fnn (FM-initialised)"]
    for row in rows:
        assert 0.0 <= row["auc"] <= 1.0 and row["logloss"] > 0 and row["parameters"] > 0
    settings = {"max_steps": 3, "epochs": 1.0}
    table = write_comparison(str(tmp_path), "compare_test", rows, baseline, settings, "caption")
    saved = json.loads((tmp_path / "compare_test.json").read_text())
    assert saved["models"] == rows and saved["popularity"] == baseline
    assert (tmp_path / "compare_test.md").read_text() == table
    assert table.count("| fnn") == 2 and "| popularity (baseline) |" in table
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]  # nothing half-written left
