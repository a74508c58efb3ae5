"""The HTTP service in process (FastAPI's TestClient): answers, limits, errors, request ids, admin key."""

from __future__ import annotations

import base64
import re

import numpy as np
import onnx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

from fastapi.testclient import TestClient

from archscore.examples import NB201_CELL, example_path, examples
from archscore.models import load_predictor
from archscore.service import Limits, create_app
from archscore.spaces import get


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture(scope="module")
def client():
    app = create_app("default", api_key="sesame", limits=Limits(max_architectures=8, max_nodes=5_000))
    with TestClient(app) as c:
        yield c


def test_health_readiness_and_model_description(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model"]["name"] == "default"
    info = client.get("/v1/models").json()
    assert info["target"] == "accuracy_percentile" and "nb201/cifar10" in info["populations"]


def test_scores_cells_and_onnx_like_the_library_does(client):
    resnet = example_path("resnet_small")
    cell = {"space": "nb201", "cell": NB201_CELL, "name": "good"}
    body = {"architectures": [cell, {"onnx_base64": b64(resnet.read_bytes())}]}
    r = client.post("/v1/score", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model"]["name"] == "default"
    first, second = out["results"]
    assert first["name"] == "good" and first["index"] == 0 and second["name"] is None
    expected = load_predictor("default").score([get("nb201").to_graph(NB201_CELL), resnet])
    for got, want in zip(out["results"], expected):
        assert got["mean"] == pytest.approx(want["mean"]) and got["std"] == pytest.approx(want["std"])
        assert (got["macs"], got["params"], got["ood"]) == (want["macs"], want["params"], want["ood"])
    assert sorted(x["rank"] for x in out["results"]) == [1, 2]
    # a cell's percentile beside a real network's CIFAR-10 top-1: ranked on the scale they share
    assert [x["target"] for x in out["results"]] == ["accuracy_percentile", "cifar10_top1"]
    assert out["results"][int(np.argmax([x["percentile"] for x in out["results"]]))]["rank"] == 1


def test_multipart_uploads_of_several_files(client):
    files = [("files", (f"{e}.onnx", example_path(e).read_bytes(), "application/octet-stream")) for e in examples()]
    r = client.post("/v1/score", files=files)
    assert r.status_code == 200, r.text
    assert [x["name"] for x in r.json()["results"]] == [f"{e}.onnx" for e in examples()]
    # small CIFAR-10 classifiers unlike every benchmark space: answered in CIFAR-10 top-1 from the zoo
    assert all(x["target"] == "cifar10_top1" and x["population"] == "zoo/cifar10" for x in r.json()["results"])


def test_one_file_as_the_body(client):
    raw = example_path("resnet_small").read_bytes()
    r = client.post("/v1/score?name=mine", content=raw, headers={"content-type": "application/octet-stream"})
    assert r.status_code == 200 and r.json()["results"][0]["name"] == "mine"
    assert r.json()["results"][0]["macs"] == load_predictor("default").score([raw])[0]["macs"]
    empty = client.post("/v1/score", content=b"", headers={"content-type": "application/octet-stream"})
    assert empty.status_code == 422 and "empty body" in empty.json()["detail"]


def test_request_ids_are_echoed_or_made(client):
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32 and made != client.get("/healthz").headers["x-request-id"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"architectures": [{"onnx_base64": b64(b"\x08\x07garbage")}]}, 422, "architecture 0: the given bytes"),
        ({"architectures": [{"onnx_base64": "not base64!"}]}, 422, "not valid base64"),
        ({"architectures": [{"space": "nb201", "cell": "bogus"}]}, 422, "'bogus' is not a cell"),
        ({"architectures": [{"space": "nb999", "cell": "x"}]}, 422, "unknown search space 'nb999'"),
        ({"architectures": [{"onnx": "/etc/passwd"}]}, 422, "Extra inputs are not permitted"),  # no server paths
        ({"architectures": []}, 422, "architectures"),
        ({"architectures": [{"space": "nb201", "cell": NB201_CELL}] * 9}, 413, "the limit is 8"),
        ({"architectures": [{"space": "nb201", "cell": NB201_CELL}], "reference": "batch"}, 422, "at least 2"),
        ({"architectures": [{"name": "nothing"}]}, 422, "exactly one of"),
        # two ways of naming one architecture: refused, not one of them silently chosen
        ({"architectures": [{"onnx_base64": b64(b"x"), "space": "nb201", "cell": NB201_CELL}]}, 422, "exactly one of"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_problem(client, body, status, message):
    r = client.post("/v1/score", json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


def test_malformed_bodies_and_content_types(client):
    assert client.post("/v1/score", content=b"{", headers={"content-type": "application/json"}).status_code == 422
    r = client.post("/v1/score", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]
    r = client.post("/v1/score", files=[("other", ("a.onnx", b"x"))])
    assert r.status_code == 422 and "'files'" in r.json()["detail"]
    bad = client.post("/v1/score", files=[("files", ("a.onnx", example_path("vit_small").read_bytes())),
                                          ("files", ("b.onnx", b"truncated"))])  # fmt: skip
    assert bad.status_code == 422 and "architecture 1 (b.onnx)" in bad.json()["detail"]


def long_chain(n: int) -> bytes:
    """A valid model of ``n`` convolutions in a row: slow to parse (hundreds of ms), tiny to send."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Conv", [f"t{i}", "w"], [f"t{i + 1}"], pads=[1, 1, 1, 1]) for i in range(n)]
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info(f"t{n}", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor("w", TensorProto.FLOAT, [4, 4, 3, 3], np.zeros(144, np.float32).tolist())],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_size_graph_and_time_limits():
    big = get("nb201").to_onnx(NB201_CELL).SerializeToString()
    tight = create_app("default", limits=Limits(max_request_bytes=10_000, max_nodes=50, parse_seconds=30))
    with TestClient(tight) as c:
        r = c.post("/v1/score", files=[("files", ("big.onnx", big))])
        assert r.status_code == 413 and "10,000 bytes" in r.json()["detail"]
        assert "without them" in r.json()["detail"] and "--max-request-mb" in r.json()["detail"]
        small = example_path("vit_small")
        small_model = onnx.load(small, load_external_data=False)
        raw = small_model.SerializeToString()
        tight_nodes = create_app("default", limits=Limits(max_nodes=10))
        with TestClient(tight_nodes) as c2:
            r = c2.post("/v1/score", json={"architectures": [{"onnx_base64": b64(raw)}]})
            assert r.status_code == 413 and "architecture 0" in r.json()["detail"]
    slow = create_app("default", limits=Limits(parse_seconds=0.02))
    with TestClient(slow) as c:
        r = c.post("/v1/score", json={"architectures": [{"onnx_base64": b64(long_chain(3000))}]})
        assert r.status_code == 422 and "longer than the limit" in r.json()["detail"]


def test_a_model_folder_is_described_by_its_name_never_its_server_path(tmp_path):
    from archscore.models import DEFAULT_MODEL

    folder = tmp_path / "secret-place" / "my-model"
    import shutil

    shutil.copytree(DEFAULT_MODEL, folder)
    with TestClient(create_app(str(folder))) as c:
        for answer in (c.get("/v1/models").text, c.get("/readyz").text):
            assert str(tmp_path) not in answer and "secret-place" not in answer and "my-model" in answer


def test_percentiles_stay_on_their_scale(client):
    cells = ["0" * 6, "4" * 6, "333333", "131313"]  # from all-none to all-conv3x3: the ends of NB201
    r = client.post("/v1/score", json={"architectures": [{"space": "nb201", "cell": c} for c in cells]})
    for x in r.json()["results"]:
        top = 100.0 if x["target"].endswith("_top1") else 1.0  # a cell unlike every other gets a top-1 in %
        assert 0.0 <= x["percentile"] <= 1.0 and 0.0 <= x["interval"][0] <= x["mean"] <= x["interval"][1] <= top


def test_admin_reload_needs_the_key(client):
    assert client.post("/v1/admin/reload").status_code == 401
    assert client.post("/v1/admin/reload", headers={"X-API-Key": "wrong"}).status_code == 401
    r = client.post("/v1/admin/reload", headers={"X-API-Key": "sesame"})
    assert r.status_code == 200 and r.json()["name"] == "default"


def test_openapi_documents_both_request_forms(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/score"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data", "application/octet-stream"}
    assert "ScoreRequest" in spec["components"]["schemas"] and "Architecture" in spec["components"]["schemas"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    # Swagger UI from local files (works offline): every asset the page loads is served here, none from a CDN
    assets = re.findall(r'(?:href|src)="([^"]+)"', docs.text)
    assert assets and all(a.startswith("/docs-assets/") for a in assets), assets
    for a in assets:
        assert client.get(a).status_code == 200, a
