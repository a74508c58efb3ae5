"""The benchmark tables bundled with archscore: where each came from, its licence, and how to read it.

Every table is a gzip-compressed CSV under ``archscore/data/bundled/``, copied unchanged from the
verified extraction described in ``bundled/LICENSES.md`` (source repository, commit and path per
file). Nothing is downloaded at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

NASLIB = "Apache-2.0 (NASLib)"
HELP = "MIT (HELP)"


@dataclass(frozen=True)
class Source:
    """One bundled table (or several joined on a key)."""

    name: str
    files: tuple[str, ...]
    description: str
    origin: str
    licence: str
    arch_columns: tuple[str, ...]
    """Columns describing the architecture, in the table's own encoding (several are joined as ``k=v; …``)."""
    space: str | None = None
    """archscore search space whose canonical cells the architectures are converted to, if built."""
    key: str | None = None
    """Column the files are joined on (when there are several)."""
    rename: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per file, columns renamed when joined (e.g. latency devices get a ``latency_`` prefix)."""
    groups: tuple[str, ...] = ()
    """Text columns a load can filter on (``search_space``, ``dataset`` …)."""
    unlabeled: bool = False
    text_columns: tuple[str, ...] = ("naslib_ops",)
    """Columns kept as text even when they look numeric (op codes with leading zeros)."""
    id_columns: tuple[str, ...] = ("nb201_index", "naslib_idx", "fbnet_index", "ofa_index", "recepie_id")
    """Numeric columns that identify rows and are never a target."""
    space_column: str | None = None
    """For a table mixing search spaces: the text column naming each row's space …"""
    spaces: dict[str, str] = field(default_factory=dict)
    """… and its value → archscore search space (a load filtered to one value gets that space's cells)."""
    datasets: dict[str, str] = field(default_factory=dict)
    """The table's dataset names → the space's dataset names, where they differ."""
    dataset: str | None = None
    """The space's dataset every row was measured on, for a table of one setting (HAT's per-task files,
    FBNet's CIFAR-100 latencies); ``None`` when a row carries labels for several (NB201, TransNAS)."""
    onnx_archive: str | None = None
    """For real networks (no search space): the bundled zip of their weight-free ONNX files, which the
    architecture column names (members of the zip)."""


_NB201_LATENCY_DEVICES = (
    "1080ti_1", "1080ti_256", "1080ti_32", "2080ti_1", "2080ti_256", "2080ti_32", "essential_ph_1", "eyeriss",
    "fpga", "gold_6226", "gold_6240", "pixel2", "pixel3", "raspi4", "samsung_a50", "samsung_s7", "silver_4114",
    "silver_4210r", "titan_rtx_1", "titan_rtx_256", "titan_rtx_32", "titanx_1", "titanx_256", "titanx_32",
    "titanxp_1", "titanxp_256", "titanxp_32",
)  # fmt: skip

_NASLIB_SPACES = {
    "nasbench101": "nb101", "nasbench201": "nb201", "nasbench301": "nb301",
    "transbench101_micro": "tnb101_micro", "transbench101_macro": "tnb101_macro",
}  # fmt: skip
"""NAS-Bench-Suite-Zero's search-space names → archscore's."""

HAT_FILES = (
    "iwslt14deen_gpu_titanxp_all", "wmt14ende_cpu_raspberrypi_all", "wmt14ende_cpu_xeon_all",
    "wmt14ende_gpu_titanxp_all", "wmt14enfr_cpu_raspberrypi_all", "wmt14enfr_cpu_xeon_all",
    "wmt14enfr_gpu_titanxp_all", "wmt19ende_gpu_titanxp_all",
)  # fmt: skip

HAT_CONFIG = (
    "encoder_embed_dim", "encoder_layer_num", "encoder_ffn_embed_dim_avg", "encoder_self_attention_heads_avg",
    "decoder_embed_dim", "decoder_layer_num", "decoder_ffn_embed_dim_avg", "decoder_self_attention_heads_avg",
    "decoder_ende_attention_heads_avg", "decoder_arbitrary_ende_attn_avg",
)  # fmt: skip

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "nb201",
            (
                "nb201/nb201_naslib_val_acc.csv.gz",
                "nb201/nb201_params_flops_analytic.csv.gz",
                "nb201/nb201_latency_help.csv.gz",
            ),
            "NAS-Bench-201, all 15,625 cells: validation accuracy on CIFAR-10/100 and ImageNet16-120, Zen-NAS "
            "score, params and FLOPs per dataset, latency (ms) on 27 device settings (HW-NAS-Bench, BRP-NAS)",
            "automl/NASLib@8c45f19dc259 run/results/benchmarks/nb201_zen.zip; HayeonLee/HELP@45f70eb92d0d "
            "data/nasbench201/latency/*.pt; params/FLOPs computed in closed form by the shared-data extraction",
            f"{NASLIB}; {HELP}; values from NAS-Bench-201 (MIT)",
            ("arch_str",),
            space="nb201",
            key="nb201_index",
            rename={"nb201/nb201_latency_help.csv.gz": {d: f"latency_{d}" for d in _NB201_LATENCY_DEVICES}},
        ),
        Source(
            "nb101_fixture",
            ("nb101/nb101_naslib_test_fixture30.csv.gz",),
            "30 real NAS-Bench-101 records: adjacency, ops, params, mean validation/test accuracy at 108 epochs",
            "automl/NASLib@0b51bc18 tests/assets/nb101_dummy.pkl",
            f"{NASLIB}; data from NAS-Bench-101 (Apache-2.0)",
            ("module_adjacency", "module_operations"),
            space="nb101",
        ),
        Source(
            "naslib_zc",
            ("naslib_zc/naslib_zc_subsets.csv.gz",),
            "NAS-Bench-Suite-Zero: validation accuracy, FLOPs, params and 11 zero-cost proxies for samples of "
            "NB101, NB201, NB301 and TransNAS-Bench-101 micro/macro on their tasks",
            "automl/NASLib commits 09a9fa2c, 44c8cc23, 7989ad22, e0998029, 8c45f19d (zc_*.json, 9x_all.zip)",
            NASLIB,
            ("naslib_arch",),
            groups=("search_space", "dataset"),
            space_column="search_space",
            spaces=_NASLIB_SPACES,
            datasets={"ImageNet16-120": "imagenet16_120"},
        ),
        Source(
            "tnb101_micro",
            ("transnas101/tnb101_micro_naslib_val.csv.gz",),
            "TransNAS-Bench-101 micro, all 4,096 cells: validation metric on 7 tasks",
            "automl/NASLib@8c45f19d naslib/data/zc_benchmarks/all_benchmarks_zen.zip",
            f"{NASLIB}; data from TransNAS-Bench-101",
            ("tnb_arch_str",),
            space="tnb101_micro",
        ),
        Source(
            "tnb101_macro",
            ("transnas101/tnb101_macro_naslib_val.csv.gz",),
            "TransNAS-Bench-101 macro, all 3,256 networks: validation metric on 7 tasks",
            "automl/NASLib@8c45f19d run/results/benchmarks/tnb101_macro_zen.zip",
            f"{NASLIB}; data from TransNAS-Bench-101",
            ("tnb_arch_str",),
            space="tnb101_macro",
        ),
        Source(
            "fbnet",
            ("fbnet/fbnet_latency_help.csv.gz",),
            "5,000 FBNet-space architectures (22 layer choices, CIFAR-100 setting): latency (ms) on 27 devices",
            "HayeonLee/HELP@45f70eb data/fbnet/{metainfo,latency/*}.pt",
            HELP,
            ("ops",),
            space="fbnet",
            dataset="cifar100",
        ),
        Source(
            "ofa_mbv3",
            ("ofa/ofa_mbv3_latency_help.csv.gz",),
            "5,000 Once-for-All MobileNetV3 subnets (kernel, expansion, depth, resolution): GPU latency (ms)",
            "HayeonLee/HELP@45f70eb data/ofa/{ofa_archs,latency/*}.pt",
            HELP,
            ("ks", "e", "d", "r"),
            space="ofa_mbv3",
        ),
        *(
            Source(
                f"hat_{f.removesuffix('_all')}",
                (f"hat_latency/{f}.csv.gz",),
                f"HAT SubTransformer configurations → measured latency (ms), {f.removesuffix('_all')}",
                f"mit-han-lab/hardware-aware-transformers@70e5a279 latency_dataset/{f}.csv",
                "MIT (HAT)",
                HAT_CONFIG,
                space="hat",
                dataset=f.split("_")[0],
            )
            for f in HAT_FILES
        ),
        Source(
            "nasbench_nlp",
            ("nasbench_nlp/nasbench_nlp_wikitext2.csv.gz",),
            "NAS-Bench-NLP recurrent cells on WikiText-2: params, validation loss and perplexity, epoch time",
            "fmsnew/nas-bench-nlp-release@a6d90a3b train_logs_wikitext-2/logs.zip",
            "Apache-2.0 (NAS-Bench-NLP)",
            ("recipe",),
            space="nbnlp",
            dataset="wikitext2",
        ),
        Source(
            "nbgraph",
            ("nbgraph/nbgraph.csv.gz",),
            "NAS-Bench-Graph, all 26,206 GNN architectures on 9 node-classification graphs (2,021 on "
            "ogbn-proteins): validation and test performance (accuracy; ROC-AUC on ogbn-proteins), inference "
            "latency (s), params (M); filter on dataset",
            "PyPI nas-bench-graph 1.4.0 (THUMNLab/NAS-Bench-Graph) nas_bench_graph/light/*.bench",
            "Apache-2.0 (NAS-Bench-Graph)",
            ("arch",),
            space="nbgraph",
            groups=("dataset",),
            id_columns=("bench_key",),
        ),
        Source(
            "zoo",
            ("zoo/zoo.csv.gz",),
            "Real networks with measured accuracy: torchvision's ImageNet-1K classifiers (weights meta) and "
            "pytorchcv's ImageNet-1K, CIFAR-10/100 and SVHN models, each as a weight-free ONNX export; one row "
            "per labelled weights entry, with its design family; filter on dataset, source or family",
            "PyPI torchvision 0.29.1 (weights meta), pytorchcv 0.0.74 (model_metainfos.csv and its documented "
            "ImageNet-1K table); networks exported by benchmarks/build_zoo.py",
            "BSD-3-Clause (torchvision); MIT (pytorchcv)",
            ("onnx",),
            groups=("dataset", "source", "family"),
            text_columns=("name", "model", "weights", "family", "onnx"),
            onnx_archive="zoo/zoo_onnx.zip",
        ),
        Source(
            "nb101_pool",
            ("unlabeled/nasbench101_arch_pool.csv.gz",),
            "10,250 unlabeled NAS-Bench-101 architectures (NASLib tuples), for pretraining and as candidates",
            "automl/NASLib@8c45f19d run/results/benchmarks/nb101_zen.zip (arch field only)",
            NASLIB,
            ("naslib_arch",),
            space="nb101",
            unlabeled=True,
        ),
        Source(
            "nb301_pool",
            ("unlabeled/nasbench301_arch_pool.csv.gz",),
            "11,221 unlabeled DARTS-space (NAS-Bench-301) genotypes (NASLib form)",
            "automl/NASLib@8c45f19d run/results/benchmarks/nb301_zen.zip (arch field only)",
            NASLIB,
            ("naslib_arch",),
            space="nb301",
            dataset="cifar10",
            unlabeled=True,
        ),
    )
}


def bundled_path(relative: str) -> resources.abc.Traversable:
    """A file bundled with the package (``archscore/data/bundled/<relative>``)."""
    return resources.files("archscore.data").joinpath("bundled", relative)
