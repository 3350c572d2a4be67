"""Write onnxruntime reference fixtures for lafam's tests to Tests/Fixtures/mobilenet_v2/.

Run from the repository root (after tools/setup-venv.sh, export_mobilenet_v2.py and make_samples.py):

    .venv/bin/python tools/make_reference_fixtures.py

Inputs: Models/mobilenet_v2.onnx and the photos Models/samples/{astronaut,chelsea,coffee,rocket}.jpg.
For every photo <stem> it writes (numpy.save, format 1.0, little-endian float32, C order):

    <stem>.input.npy        1x3x224x224  preprocessed input (see below)
    <stem>.logits.npy       1x1000       onnxruntime output `logits` for that input
    <stem>.target_mean.npy  1x7x7        mean over channels (axis 1) of the default LaFAM target tensor

and for the first photo (astronaut) also

    <stem>.target.npy       1x1280x7x7   the default LaFAM target tensor itself
    <stem>.tap.npy          1x320x7x7    an earlier intermediate (features.17's projection Conv output)

plus, for coffee only, <stem>.pil224.npy: uint8 224x224x3 RGB, the crop+resize result before
normalisation (a reference for the Swift imaging code), and expected.json with the tensor/node names,
top-5 classes per photo and the onnxruntime version.

Preprocessing (as in the LaFAM paper): decode with PIL, convert to RGB, centre crop to a square of the
short side s with the box torchvision's CenterCrop computes (left = round((w - s) / 2),
top = round((h - s) / 2), Python's round, i.e. halves go to even), PIL Image.resize((224, 224),
Image.BILINEAR) (antialiased when shrinking), /255, subtract mean (0.485, 0.456, 0.406), divide by
std (0.229, 0.224, 0.225), HWC -> NCHW.

The default target tensor is found by graph inspection: the input of the model's GlobalAveragePool
node (it must be a 4-D activation). Intermediates are read from onnxruntime by adding them to
graph.output of an in-memory copy of the model. onnxruntime runs with one intra-op thread and default
graph optimisations; the augmented model's logits are checked against the plain model's.
"""

import argparse
import copy
import hashlib
import json
import os
import re
import sys

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = ("astronaut", "chelsea", "coffee", "rocket")
PIL_REFERENCE = ("coffee",)
DEFAULT_TAP_NODE = "/features/features.17/conv/conv.2/Conv"


def centre_crop_box(w, h):
    """torchvision CenterCrop box (left, top, right, bottom) for a square of the short side."""
    s = min(w, h)
    left = int(round((w - s) / 2.0))
    top = int(round((h - s) / 2.0))
    return left, top, left + s, top + s


def load_resized(path, size=224):
    img = Image.open(path)
    img.load()
    img = img.convert("RGB")
    box = centre_crop_box(*img.size)
    resized = img.crop(box).resize((size, size), Image.BILINEAR)
    return np.asarray(resized, dtype=np.uint8).copy(), img.size, box


def normalise(rgb, mean, std):
    x = rgb.astype(np.float32) / np.float32(255.0)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype="<f4")


def save_npy(path, arr, dtype):
    arr = np.ascontiguousarray(arr, dtype=dtype)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=(1, 0), allow_pickle=False)
    return os.path.getsize(path)


def find_default_target(model):
    """Input of the (single) GlobalAveragePool node, and the node that produces it."""
    graph = model.graph
    pools = [n for n in graph.node if n.op_type == "GlobalAveragePool"]
    if len(pools) != 1:
        sys.exit(f"expected exactly one GlobalAveragePool node, found {len(pools)}")
    tensor = pools[0].input[0]
    producers = [n for n in graph.node if tensor in n.output]
    if len(producers) != 1:
        sys.exit(f"tensor {tensor!r} has {len(producers)} producers")
    return tensor, producers[0].name, pools[0].name


def value_shapes(model):
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    return shapes


def session(model_or_path, threads=1):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    src = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def compact_json(obj):
    """json.dumps with indent 2, but innermost lists (no nested list or object) kept on one line."""
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    return re.sub(r"\[[^\[\]{}]*\]", lambda m: json.dumps(json.loads(m.group(0)), ensure_ascii=False), text)


def softmax(z):
    z = z.astype(np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(REPO, "Models", "mobilenet_v2.onnx"))
    ap.add_argument("--samples", default=os.path.join(REPO, "Models", "samples"))
    ap.add_argument("--out", default=os.path.join(REPO, "Tests", "Fixtures", "mobilenet_v2"))
    ap.add_argument("--tap-node", default=DEFAULT_TAP_NODE, help="node whose first output is saved as the tap")
    args = ap.parse_args()

    model = onnx.load(args.model)
    meta = {p.key: p.value for p in model.metadata_props}
    classes = json.loads(meta["lafam.class_names"])
    mean = [float(v) for v in meta["lafam.mean"].split(",")]
    std = [float(v) for v in meta["lafam.std"].split(",")]
    input_name = model.graph.input[0].name
    output_name = model.graph.output[0].name

    target, target_node, pool_node = find_default_target(model)
    taps = [n for n in model.graph.node if n.name == args.tap_node]
    if len(taps) != 1:
        sys.exit(f"tap node {args.tap_node!r} not found")
    tap = taps[0].output[0]
    shapes = value_shapes(model)
    print(f"target: {target} from {target_node} (feeds {pool_node}), shape {shapes.get(target)}")
    print(f"tap:    {tap} from {args.tap_node}, shape {shapes.get(tap)}")
    if len(shapes.get(target, [])) != 4:
        sys.exit("default target is not a 4-D activation")

    augmented = copy.deepcopy(model)
    for name in (target, tap):
        vi = augmented.graph.output.add()
        vi.name = name
        vi.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    plain_sess = session(args.model)
    aug_sess = session(augmented)

    os.makedirs(args.out, exist_ok=True)
    expected = {
        "targetTensor": target,
        "targetNode": target_node,
        "tapTensor": tap,
        "tapNode": args.tap_node,
        "images": {},
        "onnxruntime": ort.__version__,
        "model": os.path.basename(args.model),
        "modelSha256": hashlib.sha256(open(args.model, "rb").read()).hexdigest(),
        "fullTensorsImage": SAMPLES[0],
        "preprocess": "RGB; centre crop to short side (torchvision CenterCrop box); "
                      "PIL resize 224x224 BILINEAR; /255; (x-mean)/std; NCHW",
    }
    written = []
    for i, stem in enumerate(SAMPLES):
        path = os.path.join(args.samples, stem + ".jpg")
        rgb, size, box = load_resized(path)
        x = normalise(rgb, mean, std)
        logits = plain_sess.run([output_name], {input_name: x})[0]
        aug_logits, t, tp = aug_sess.run([output_name, target, tap], {input_name: x})
        drift = float(np.abs(aug_logits - logits).max())
        if drift > 1e-4:
            sys.exit(f"{stem}: augmented model's logits differ by {drift}")
        assert logits.shape == (1, 1000) and t.ndim == 4 and t.shape[0] == 1, (logits.shape, t.shape)
        target_mean = t.astype(np.float64).mean(axis=1).astype(np.float32)

        def out(suffix, arr, dtype="<f4"):
            p = os.path.join(args.out, f"{stem}.{suffix}.npy")
            written.append((p, save_npy(p, arr, dtype)))

        out("input", x)
        out("logits", logits)
        out("target_mean", target_mean)
        if i == 0:
            out("target", t)
            out("tap", tp)
        if stem in PIL_REFERENCE:
            out("pil224", rgb, "u1")

        p = softmax(logits[0])
        order = np.argsort(-p, kind="stable")[:5]
        top5 = [[int(k), classes[k], float(p[k])] for k in order]
        expected["images"][stem] = {"top5": top5, "size": list(size), "cropBox": list(box)}
        print(f"{stem:10s} {size[0]}x{size[1]} crop {box}: top-1 {top5[0][0]} {top5[0][1]!r} p={top5[0][2]:.4f}; "
              f"target {tuple(t.shape)} mean range [{target_mean.min():.4f}, {target_mean.max():.4f}]")

    p = os.path.join(args.out, "expected.json")
    with open(p, "w") as f:
        f.write(compact_json(expected) + "\n")
    written.append((p, os.path.getsize(p)))
    total = sum(s for _, s in written)
    for path, size in written:
        print(f"  {os.path.relpath(path, REPO)}  {size}")
    print(f"{len(written)} files, {total} bytes")
    if total > 4_000_000:
        sys.exit("fixtures exceed 4 MB")


if __name__ == "__main__":
    main()
