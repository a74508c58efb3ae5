"""Build archscore's zoo of real, labelled architectures from data shipped inside PyPI packages.

Sources (nothing is fetched from a hub; pretrained weights are never loaded):

* **torchvision** — every classification weights enum: its ``meta`` (``_metrics`` ImageNet-1K
  acc@1 / acc@5, ``num_params``, ``_ops`` GFLOPS, ``min_size``) and its transforms' crop size; the
  network from its builder with ``weights=None``, exported at that crop size.
* **pytorchcv** — ``models/common/model_metainfos.csv`` (385 ImageNet-1K and 242 CIFAR-10 /
  CIFAR-100 / SVHN models). The CSV's ``error_value`` is the **top-5** error (×100) for
  ImageNet-1K models and the (top-1) error for the CIFAR/SVHN ones: the package's own
  documentation (its ``METADATA`` tables, "Top1/Top5 are the standard 1-crop Top-1/Top-5
  errors") says so, and its ImageNet-1K table gives the top-1 error. Both are read; the ImageNet
  top-5 error of the CSV is checked against the table for every model. Each network is built with
  ``get_model(name, pretrained=False)`` and exported at the CSV's ``img_size`` (32 for CIFAR/SVHN).
* **mmpretrain** — the model index of its wheel (``.mim/configs/*/metafile.yml``: 436 ImageNet-1K
  "Top 1 Accuracy" results, parameters, FLOPs, training data) and each config's test pipeline
  (the centre-crop size); the network from ``mmpretrain.get_model(name, pretrained=False)``. Its
  classification models build with the pure-Python ``mmcv-lite`` (no compiled mmcv ops). Rows
  whose weights saw more than ImageNet-1K (ImageNet-21k, LAION, CLIP …) are kept with
  ``extra_data = 1``; rows measured by linear probing of a self-supervised backbone with
  ``linear_probe = 1`` (their accuracy is not the architecture's supervised accuracy). Networks
  above :data:`MAX_PARAMS` parameters are listed as skipped (too large to export on 2 cores).

Each network is exported to ONNX **without weights** (``export_params=False``, the legacy
exporter, opset 17), parsed with :func:`archscore.from_onnx` (MACs and parameters of the canonical
graph are recorded beside the source's own figures), and stored in ``zoo_onnx.zip``; the labels go
to ``zoo.csv.gz`` (one row per labelled weights entry; entries of one architecture at one
resolution share one ONNX file). Entries that fail to build, export or parse are listed with the
reason in ``benchmarks/results/zoo_build.json``, never dropped silently.

**Families** (one name per design lineage, for the leave-one-family-out protocol) come from
:data:`FAMILY_RULES`: the first regular expression that matches the lower-case model name wins.
A model no rule matches fails the build (a new lineage must be named, not guessed).

Run in an environment of its own (torchvision's registry wheels do not load beside the CPU
``torch==2.13.0``)::

    python -m venv /tmp/zoo && /tmp/zoo/bin/pip install torch==2.14.1 torchvision==0.29.1 pytorchcv==0.0.74 \
        mmengine==0.10.7 mmcv-lite==2.2.0 einops modelindex mat4py importlib_metadata
    /tmp/zoo/bin/pip install --no-deps mmpretrain==1.2.0   # it asks for the compiled mmcv; mmcv-lite serves
    /tmp/zoo/bin/pip install -e .            # archscore itself, to parse what is exported
    /tmp/zoo/bin/python benchmarks/build_zoo.py --workers 2

The output is deterministic for the same package versions (ONNX bytes, zip member order and
timestamps, gzip without a timestamp): rerunning it from scratch gives the same shipped files.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import multiprocessing
import os
import re
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "archscore" / "data" / "bundled" / "zoo"
REPORT = ROOT / "benchmarks" / "results" / "zoo_build.json"
OPSET = 17
MAX_PARAMS = 200e6

FAMILY_RULES: tuple[tuple[str, str], ...] = (
    (r"^(beit|deit|revvit|vit_(base|large|huge|small|tiny|b|l|h)|vit_)", "vit"),
    (r"^csp", "cspnet"),
    (r"^conformer", "conformer"),
    (r"^convmixer", "convmixer"),
    (r"^davit", "davit"),
    (r"^edgenext", "edgenext"),
    (r"^efficientformer", "efficientformer"),
    (r"^hivit", "hivit"),
    (r"^hornet", "hornet"),
    (r"^levit", "levit"),
    (r"^mixmim", "mixmim"),
    (r"^(mlp_mixer|mixer)", "mixer"),
    (r"^mvit", "mvit"),
    (r"^mobileone", "mobileone"),
    (r"^mobilevit", "mobilevit"),
    (r"^(poolformer|riformer)", "metaformer"),
    (r"^replknet", "replknet"),
    (r"^repmlp", "repmlp"),
    (r"^repvgg", "repvgg"),
    (r"^res2net", "res2net"),
    (r"^tinyvit", "tinyvit"),
    (r"^t2t", "t2t"),
    (r"^tnt", "tnt"),
    (r"^twins", "twins"),
    (r"^p?vig", "vig"),
    (r"^van_", "van"),
    (r"^xcit", "xcit"),
    (r"^(alexnet|zfnet)", "alexnet"),
    (r"^(bn_)?vgg", "vgg"),
    (r"^(googlenet|bninception|inception|xception|polynet)", "inception"),
    (r"^ibnb?_", "ibn"),
    (r"^(se(pre)?resne(xt|t)|senet)", "senet"),
    (r"^resnest", "resnest"),
    (r"^air(net|next)", "airnet"),
    (r"^c?bam_", "bam"),
    (r"^scnet", "scnet"),
    (r"^regnet", "regnet"),
    (r"^pyramidnet", "pyramidnet"),
    (r"^diracnet", "diracnet"),
    (r"^(x?densenet|condensenet|peleenet)", "densenet"),
    (r"^drn", "drn"),
    (r"^dpn", "dpn"),
    (r"^darknet", "darknet"),
    (r"^irevnet", "irevnet"),
    (r"^bagnet", "bagnet"),
    (r"^dla", "dla"),
    (r"^fishnet", "fishnet"),
    (r"^(espnet|dicenet)", "espnet"),
    (r"^hrnet", "hrnet"),
    (r"^vovnet", "vovnet"),
    (r"^selecsls", "selecsls"),
    (r"^hardnet", "hardnet"),
    (r"^(squeeze|sqnxt)", "squeezenet"),
    (r"^(shufflenet|menet)", "shufflenet"),
    (r"^(mobilenet_?v2|igcv3)", "mobilenetv2"),
    (r"^mobilenet_?v3", "mobilenetv3"),
    (r"^(fd)?mobilenetb?_", "mobilenet"),
    (r"^(mnasnet|proxylessnas|fbnet|spnasnet|mixnet)", "mnasnet"),
    (r"^(darts|nasnet|pnasnet)", "nasnet"),
    (r"^efficientnet", "efficientnet"),
    (r"^convnext", "convnext"),
    (r"^maxvit", "maxvit"),
    (r"^swin", "swin"),
    (r"^vit_", "vit"),
    (r"^(dia(pre)?resnet)", "diaresnet"),
    (r"^(ror|rir)", "ror"),
    (r"^shakeshake", "shakeshake"),
    (r"^nin_", "nin"),
    (r"^resnext", "resnext"),
    (r"^(wrn|wide_resnet|(pre)?resnet)", "resnet"),
)
"""Model name → design lineage. Variants of one design (pre-activation, wide, -b/-d stems,
width multipliers) stay in their lineage; a design that changed the block (ResNeXt's groups, SE,
attention modules, IBN) is its own."""


def family(name: str) -> str:
    name = name.lower().replace("-", "_")
    for pattern, fam in FAMILY_RULES:
        if re.match(pattern, name):
            return fam
    raise ValueError(f"no family rule matches {name!r}: add one to FAMILY_RULES")


# -- collecting the labelled entries -------------------------------------------------------------
def torchvision_entries(skipped: list[dict]) -> list[dict]:
    import torchvision
    from torchvision import models

    rows = []
    for name in sorted(models.list_models(module=models)):
        for w in models.get_model_weights(name):
            meta = w.meta
            metrics = meta.get("_metrics", {}).get("ImageNet-1K")
            if not metrics:
                continue
            if not math.isfinite(metrics["acc@1"]):  # vgg16's feature-extractor weights: no classifier
                skipped.append({"name": f"torchvision:{name}@{w.name}", "reason": "its meta records no acc@1"})
                continue
            crop = w.transforms.keywords.get("crop_size", 224)
            crop = int(crop[0] if isinstance(crop, (list, tuple)) else crop)
            rows.append(
                {
                    "source": "torchvision",
                    "model": name,
                    "weights": w.name,
                    "dataset": "imagenet1k",
                    "top1": float(metrics["acc@1"]),
                    "top5": float(metrics["acc@5"]),
                    "resolution": crop,
                    "recorded_params": int(meta["num_params"]),
                    "recorded_gmacs": float(meta.get("_ops", float("nan"))),
                    # SWAG weights were pretrained on Instagram's 3.6B images, not ImageNet-1K alone
                    "extra_data": int("SWAG" in w.name),
                    "licence": "BSD-3-Clause (torchvision)",
                    "origin": f"torchvision {torchvision.__version__} models.{name} weights {w.name} meta",
                }
            )
    return rows


def _pytorchcv_top1_table() -> dict[str, tuple[float, float]]:
    """pytorchcv's documented ImageNet-1K table: file stem ``name-errXXXX`` → (top-1 error, top-5 error)."""
    text = metadata.distribution("pytorchcv").read_text("METADATA") or ""
    section = text.split("### ImageNet-1K", 1)[1].split("\n### ", 1)[0]
    table = {}
    for line in section.splitlines():
        m = re.match(r"\|[^|]+\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|.*/([a-z0-9_]+)-(\d{4})-[0-9a-f]{8}\.pth\.log", line)
        if m:
            table[m.group(3)] = (float(m.group(1)), float(m.group(2)))
    return table


def pytorchcv_entries(skipped: list[dict]) -> list[dict]:
    from importlib import resources

    version = metadata.version("pytorchcv")
    text = resources.files("pytorchcv").joinpath("models/common/model_metainfos.csv").read_text()
    documented = _pytorchcv_top1_table()
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        ds = r["test_dataset"]
        if ds not in ("in1k", "cf"):
            continue
        name = r["model_name"]
        if r["error_value"] == "NA":
            skipped.append({"name": f"pytorchcv:{name}", "reason": "the package records no error for it (no weights)"})
            continue
        err = int(r["error_value"]) / 100
        row = {
            "source": "pytorchcv",
            "model": name,
            "weights": f"{name}-{r['error_value']}-{r['checksum'][:8]}",
            "recorded_params": int(r["net_weights"]),
            "recorded_gmacs": float("nan"),
            "extra_data": 0,
            "licence": "MIT (pytorchcv)",
            "origin": f"pytorchcv {version} models/common/model_metainfos.csv + METADATA tables",
        }
        if ds == "in1k":
            if name not in documented:
                raise ValueError(f"pytorchcv {name}: not in the package's documented ImageNet-1K table")
            top1_err, top5_err = documented[name]
            if abs(top5_err - err) > 0.006:
                raise ValueError(f"pytorchcv {name}: CSV error {err} is not the documented top-5 error {top5_err}")
            row |= {"dataset": "imagenet1k", "top1": round(100 - top1_err, 2), "top5": round(100 - err, 2),
                    "resolution": 224 if r["img_size"] == "NA" else int(r["img_size"])}  # fmt: skip
        else:
            dataset = name.rsplit("_", 1)[1]
            row |= {"dataset": dataset, "top1": round(100 - err, 2), "top5": float("nan"), "resolution": 32}
        rows.append(row)
    return rows


_EXTRA = re.compile(r"in21k|in12k|laion|openai|clip|merged|megdata|ig1b|jft", re.I)


_NOT_THE_NETWORK = ("init_cfg", "train_cfg", "data_preprocessor", "pretrained", "loss", "cal_acc", "topk")


def _strip(d):
    """A model config without what does not change the network (initialisation, training settings)."""
    if isinstance(d, dict):
        return {k: _strip(v) for k, v in sorted(d.items()) if k not in _NOT_THE_NETWORK}
    if isinstance(d, (list, tuple)):
        return [_strip(v) for v in d]
    return d


def _test_crop(config_class, path: str, name: str) -> tuple[int, str]:
    """The centre-crop size of a config's test pipeline (its resize scale without one), and a key of its
    network (configs that differ only in pretraining build one network). Where the config cannot be
    read (some use mmengine's lazy-import syntax): the name's ``-NNNpx``, else 224, and the name."""
    try:
        cfg = config_class.fromfile(path)
        key = json.dumps(_strip(cfg.model.to_dict()), sort_keys=True, default=str)
        pipeline = cfg.get("test_pipeline") or cfg.test_dataloader.dataset.pipeline
        crop = next((d["crop_size"] for d in pipeline if d["type"].endswith("CenterCrop")), None)
        if crop is None:
            crop = next(d["scale"] for d in pipeline if d["type"] in ("Resize", "ResizeEdge"))
        return int(crop[0] if isinstance(crop, (list, tuple)) else crop), key
    except Exception:
        m = re.search(r"(\d+)px", name)
        return (int(m.group(1)) if m else 224), name


def mmpretrain_entries(skipped: list[dict]) -> list[dict]:
    from mmengine import Config
    from mmpretrain.apis.model import ModelHub

    version = metadata.version("mmpretrain")
    ModelHub._register_mmpretrain_models()
    rows = []
    for name, m in sorted(ModelHub._models_dict.items()):
        result = next(
            (r for r in m.results or [] if r.task == "Image Classification" and r.dataset == "ImageNet-1k"), None
        )
        if result is None or result.metrics.get("Top 1 Accuracy") is None:
            if result is not None:
                skipped.append({"name": f"mmpretrain:{name}", "reason": "its metafile records no top-1 accuracy"})
            continue
        md = m.metadata
        params = getattr(md, "parameters", None)
        if params and params > MAX_PARAMS:
            skipped.append(
                {"name": f"mmpretrain:{name}", "reason": f"{params / 1e6:.0f}M parameters: too large to export here"}
            )
            continue
        crop, key = _test_crop(Config, m.config, name)
        data = getattr(md, "training_data", None) or []
        data = [data] if isinstance(data, str) else list(data)
        extra = any(d != "ImageNet-1k" for d in data) or bool(_EXTRA.search(name))
        rows.append(
            {
                "source": "mmpretrain",
                "model": name,
                "weights": name,
                "dataset": "imagenet1k",
                "top1": float(result.metrics["Top 1 Accuracy"]),
                "top5": float(result.metrics.get("Top 5 Accuracy") or float("nan")),
                "resolution": crop,
                "recorded_params": int(params or 0),
                "recorded_gmacs": float(getattr(md, "flops", 0) or 0) / 1e9,
                "extra_data": int(extra),
                "linear_probe": int("linear" in name),
                "arch_key": key,
                "licence": "Apache-2.0 (mmpretrain)",
                "origin": f"mmpretrain {version} {m.in_collection} metafile (.mim/configs)",
            }
        )
    return rows


# -- building and exporting one network (in a worker process) ------------------------------------
class _Logits(torch.nn.Module):
    """An mmpretrain classifier as ``x → logits`` (its ``forward`` takes a ``mode``)."""

    def __init__(self, net) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x, mode="tensor")


def _build(source: str, model: str, resolution: int):
    if source == "torchvision":
        from torchvision import models

        # torchvision's ViTs are built for one image size: the SWAG weights' larger ones need it said
        return models.get_model(model, weights=None, **({"image_size": resolution} if model.startswith("vit_") else {}))
    if source == "mmpretrain":
        import warnings

        from mmpretrain import get_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _Logits(get_model(model, pretrained=False))
    from pytorchcv.model_provider import get_model

    return get_model(model, pretrained=False)


def export_one(source: str, model: str, resolution: int) -> dict:
    """Export one network weight-free and parse it; returns the ONNX bytes and the graph's figures or the error."""
    import torch

    import archscore

    torch.manual_seed(0)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        net = _build(source, model, resolution).eval()
    except Exception as e:
        return {"error": f"build: {type(e).__name__}: {e}"}
    x = torch.zeros(1, 3, resolution, resolution)
    buf = io.BytesIO()
    try:
        # with gradients on: under no_grad, nn.MultiheadAttention takes a fused kernel the exporter cannot write
        torch.onnx.export(net, (x,), buf, dynamo=False, export_params=False, opset_version=OPSET,
                          input_names=["input"], output_names=["logits"], do_constant_folding=True)  # fmt: skip
    except Exception as e:
        return {"error": f"export: {type(e).__name__}: {str(e)[:300]}"}
    data = buf.getvalue()
    try:
        g = archscore.from_onnx(data)
    except Exception as e:
        return {"error": f"parse: {type(e).__name__}: {str(e)[:300]}"}
    true_params = sum(p.numel() for p in net.parameters())
    return {
        "onnx": data,
        "macs": int(g.total_macs),
        "params": int(g.total_params),
        "module_params": int(true_params),
        "nodes": len(g.nodes),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _export_job(job: tuple[str, str, str, int]) -> tuple[str, dict]:
    member, *args = job
    try:
        return member, export_one(*args)
    except Exception as e:
        return member, {"error": f"worker: {type(e).__name__}: {e}"}


# -- writing ---------------------------------------------------------------------------------------
COLUMNS = ("name", "source", "model", "weights", "family", "dataset", "top1", "top5", "resolution", "extra_data",
           "linear_probe",
           "recorded_params", "recorded_gmacs", "graph_params", "graph_macs", "onnx", "licence", "origin")  # fmt: skip


def _cell(v: object) -> str:
    if isinstance(v, float):
        return "" if v != v else repr(v)
    return str(v)


def write_outputs(rows: list[dict], files: dict[str, bytes], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in sorted(rows, key=lambda r: (r["source"], r["dataset"], r["model"], r["weights"])):
        w.writerow([_cell(r[c]) for c in COLUMNS])
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(text.getvalue().encode())
    (out / "zoo.csv.gz").write_bytes(raw.getvalue())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for member in sorted(files):
            info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, files[member])
    (out / "zoo_onnx.zip").write_bytes(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N networks (a quick check)")
    parser.add_argument("--sources", default="torchvision,pytorchcv,mmpretrain", help="comma-separated sources")
    parser.add_argument("--out", type=Path, default=OUT, help="folder of zoo.csv.gz and zoo_onnx.zip")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)

    skipped: list[dict] = []
    readers = {"torchvision": torchvision_entries, "pytorchcv": pytorchcv_entries, "mmpretrain": mmpretrain_entries}
    entries = [e for source in args.sources.split(",") for e in readers[source](skipped)]
    for e in entries:
        e["family"] = family(e["model"])
        e.setdefault("linear_probe", 0)
    # one export per (source, model, resolution); the labelled entries point at it
    jobs: dict[str, tuple[str, str, int]] = {}
    builder: dict[tuple[str, int], str] = {}  # mmpretrain: configs of one network share its export
    for e in sorted(entries, key=lambda e: e["model"]):
        if "arch_key" in e:
            e["model_built"] = builder.setdefault((e["arch_key"], e["resolution"]), e["model"])
    for e in entries:
        built = e.get("model_built", e["model"])
        member = f"{e['source']}/{built}_{e['resolution']}.onnx"
        e["onnx"] = member
        e["name"] = f"{e['source']}:{e['model']}" + (f"@{e['weights']}" if e["source"] == "torchvision" else "")
        jobs[member] = (e["source"], built, e["resolution"])
    members = sorted(jobs)[: args.limit] if args.limit else sorted(jobs)
    print(f"{len(entries)} labelled entries, {len(jobs)} networks to export", file=sys.stderr)
    results: dict[str, dict] = {}
    t0 = time.time()
    # multiprocessing.Pool: a fresh worker every few networks (torch keeps memory); Python 3.11's
    # ProcessPoolExecutor deadlocks when a worker retires under max_tasks_per_child
    with multiprocessing.get_context("spawn").Pool(args.workers, maxtasksperchild=8) as pool:
        done = pool.imap_unordered(_export_job, [(m, *jobs[m]) for m in members])
        for i, (m, res) in enumerate(done, start=1):
            results[m] = res
            state = res.get("error", f"ok {res.get('seconds')} s")
            print(f"[{i}/{len(members)} {time.time() - t0:.0f}s] {m}: {state}", file=sys.stderr, flush=True)
    ok_rows, files, failed = [], {}, []
    for e in entries:
        res = results.get(e["onnx"])
        if res is None:
            continue
        if "error" in res:
            failed.append({"name": e["name"], "onnx": e["onnx"], "reason": res["error"]})
            continue
        files[e["onnx"]] = res["onnx"]
        ok_rows.append(e | {"graph_params": res["params"], "graph_macs": res["macs"]})
    write_outputs(ok_rows, files, args.out)
    by: dict[str, dict[str, int]] = {}
    for e in entries:
        if e["onnx"] in results:
            d = by.setdefault(f"{e['source']}/{e['dataset']}", {"entries": 0, "built": 0})
            d["entries"] += 1
            d["built"] += "error" not in results[e["onnx"]]
    report = {
        "versions": {
            p: metadata.version(p)
            for p in ("torch", "torchvision", "pytorchcv", "mmpretrain", "mmcv-lite", "mmengine", "onnx", "archscore")
        },
        "opset": OPSET,
        "entries": len(entries),
        "networks": len(members),
        "networks_built": sum("error" not in r for r in results.values()),
        "coverage": by,
        "families": sorted({e["family"] for e in ok_rows}),
        "failed": sorted(failed, key=lambda f: f["name"]),
        "unlabelled": skipped,
        "seconds": round(time.time() - t0, 1),
        "per_network": {m: {k: v for k, v in r.items() if k != "onnx"} for m, r in sorted(results.items())},
        "zip_mb": round((args.out / "zoo_onnx.zip").stat().st_size / 1e6, 2),
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("per_network", "failed")}, indent=1))
    print(f"{len(failed)} entries failed (reasons in {args.report})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
