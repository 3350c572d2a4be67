"""Grad-CAM on full-size torchvision transformers: lafam on the ONNX export against pytorch-grad-cam
1.5.7 on the same torch model with the documented reshape_transform (issue 16).

From the repository root, after tools/parity/export_architectures.py wrote the exports and
`swift build -c release`:

    .venv/bin/python tools/parity/transformer_gradcam_parity.py --markdown .build-models/gradcam-parity.md

Options: --models DIR (default `.build-models/`), --only NAME ... (file names up to the first dot,
or whole file names), --lafam PATH (default `.build/release/lafam`), --markdown FILE.

For every `<name>.<variant>.onnx` of a transformer in export_architectures.TRANSFORMER_HEADS: the torch
model is rebuilt exactly as the export was (same seed, same head re-initialisation; its sha256 is
not compared, the logits are), the four sample photos are preprocessed as compare_architectures.py
does (centre crop, bilinear resize, ImageNet mean/std), and
* pytorch-grad-cam's Grad-CAM raw map (np.maximum(get_cam_image), before its resize) for each
  photo's top class at LAYERS[name] with RESHAPE[name] — ViT: the last block's ln_1 with the class
  token dropped, as pytorch-grad-cam's vit_example.py; Swin: the last block's norm1, permuted from
  channels last; MaxViT: the last block's layer norm before its grid attention, permuted;
* lafam: `lafam run --model M x.npy --method gradcam --node T --npy` with T the ONNX tensor the same
  module writes (the last node under the module's name scope), its `.raw.npy` per image.
Check: same shape, max|lafam - pgc| <= 1e-4 * max(1, max|pgc|) per image, top classes equal.
For ViT the tensor is also lafam's default target (checked), so no --node is given there.
Exit status 1 if anything fails.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fixtures"))
from compare_architectures import DEFAULT_BATCH4, REPO, TOLERANCE, input_settings, load_photo, preprocess  # noqa: E402
from export_architectures import TRANSFORMER_HEADS, build_torchvision, load_photos  # noqa: E402
from fixture_common import pytorch_grad_cam_raw  # noqa: E402


def vit_tokens(t):
    """pytorch-grad-cam's ViT reshape_transform: class token dropped, [B, 196, C] -> [B, C, 14, 14]."""
    side = int(round((t.size(1) - 1) ** 0.5))
    return t[:, 1:, :].reshape(t.size(0), side, side, t.size(2)).permute(0, 3, 1, 2)


def channels_last(t):
    return t.permute(0, 3, 1, 2)


# torch module -> the ONNX name scope the exporter gives its nodes, and the reshape_transform.
LAYERS = {
    "vit_b_16": ("encoder.layers[-1].ln_1", "/encoder/layers/encoder_layer_11/ln_1/", vit_tokens),
    "vit_b_32": ("encoder.layers[-1].ln_1", "/encoder/layers/encoder_layer_11/ln_1/", vit_tokens),
    "vit_l_16": ("encoder.layers[-1].ln_1", "/encoder/layers/encoder_layer_23/ln_1/", vit_tokens),
    "swin_t": ("features[-1][-1].norm1", "/features/features.7/features.7.1/norm1/", channels_last),
    "swin_s": ("features[-1][-1].norm1", "/features/features.7/features.7.1/norm1/", channels_last),
    "swin_v2_t": ("features[-1][-1].norm1", "/features/features.7/features.7.1/norm1/", channels_last),
}


def module_at(model, path):
    return eval("model." + path, {"model": model})  # noqa: S307 - our own constant paths


def onnx_tensor(proto, scope):
    """Output of the last node in the name scope (LayerNormalization, or the final Add of one
    written as elementary ops)."""
    nodes = [n for n in proto.graph.node if n.name.startswith(scope)]
    if not nodes:
        raise LookupError(f"no node under {scope}")
    return nodes[-1].output[0]


def check(path, lafam, workdir, photos_for_bn):
    stem = os.path.basename(path)
    name = stem.split(".")[0]
    proto = onnx.load(path, load_external_data=False)
    settings = input_settings(name, proto)
    h, w = settings["size"]
    x = np.stack([preprocess(load_photo(p), h, w, settings["mean"], settings["std"], settings["bgr"], settings["nhwc"], settings["per_image"])
                  for p in DEFAULT_BATCH4])
    spec = build_torchvision(name, photos_for_bn)
    model = spec["model"]
    torch_path, scope, reshape = LAYERS[name]
    t0 = time.time()
    ref, classes = pytorch_grad_cam_raw(model, module_at(model, torch_path), x, reshape)
    pgc_seconds = time.time() - t0
    tensor = onnx_tensor(proto, scope)
    del proto

    xpath = os.path.join(workdir, "x.npy")
    np.save(xpath, x)
    out = os.path.join(workdir, stem)
    cmd = [lafam, "run", "--model", path, xpath, "--method", "gradcam", "--npy", "--json", "--output", out, "--overwrite"]
    default_target = name.startswith("vit")
    if not default_target:
        cmd += ["--node", tensor]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lafam_seconds = time.time() - t0
    if proc.returncode != 0:
        return dict(model=stem, ok=False, detail=proc.stderr.strip().splitlines()[-1:])
    entry = json.loads(proc.stdout)["images"][0]["maps"][0]
    got = np.load(entry["files"]["raw"]).reshape(ref.shape)
    errors = []
    if entry["target"] != tensor:
        errors.append(f"lafam explained {entry['target']}, not {tensor}")
    scale = np.maximum(1, np.abs(ref).reshape(len(ref), -1).max(axis=1))
    rel = (np.abs(got - ref).reshape(len(ref), -1).max(axis=1) / scale)
    ok = bool((rel <= TOLERANCE).all()) and not errors and entry["classes"] == classes
    return dict(model=stem, ok=ok, tensor=tensor, shape=list(ref.shape), classes=classes, lafam_classes=entry["classes"],
                rel=float(rel.max()), peak=float(ref.max()), pgc_seconds=pgc_seconds, lafam_seconds=lafam_seconds,
                detail="; ".join(errors))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=os.path.join(REPO, ".build-models"))
    ap.add_argument("--only", nargs="+")
    ap.add_argument("--lafam", default=os.path.join(REPO, ".build", "release", "lafam"))
    ap.add_argument("--markdown")
    args = ap.parse_args()
    torch.set_num_threads(2)
    paths = sorted(p for p in glob.glob(os.path.join(args.models, "*.onnx"))
                   if os.path.basename(p).split(".")[0] in LAYERS and os.path.basename(p).split(".")[0] in TRANSFORMER_HEADS)
    if args.only:
        paths = [p for p in paths if os.path.basename(p) in args.only or os.path.basename(p).split(".")[0] in args.only]
    photos = load_photos()
    results = []
    with tempfile.TemporaryDirectory() as work:
        for p in paths:
            r = check(p, args.lafam, work, photos)
            results.append(r)
            print(f"{r['model']}: {'PASS' if r['ok'] else 'FAIL'} rel {r.get('rel', float('nan')):.1e} "
                  f"classes {r.get('classes')} lafam {r.get('lafam_classes')} {r.get('detail', '')}", flush=True)
    if args.markdown:
        lines = ["# Grad-CAM on full-size transformers: lafam vs pytorch-grad-cam 1.5.7", "",
                 "Generated by `tools/parity/transformer_gradcam_parity.py` (its docstring says how). Four sample photos, "
                 "each photo's top class; criterion max|lafam − pgc| ≤ 1e-4 · max(1, max|pgc|) per image.", "",
                 "| export | tensor | raw map | classes | rel. error | pgc s | lafam s | result |", "|---|---|---|---|---|---|---|---|"]
        for r in results:
            lines.append(f"| {r['model']} | `{r.get('tensor', '')}` | {r.get('shape', '')} | {r.get('classes', '')} | "
                         f"{r.get('rel', float('nan')):.1e} | {r.get('pgc_seconds', 0):.1f} | {r.get('lafam_seconds', 0):.1f} | "
                         f"{'pass' if r['ok'] else 'FAIL ' + str(r.get('detail', ''))} |")
        write_report(args.markdown, lines, results, args.lafam)
    return 0 if results and all(r["ok"] for r in results) else 1


def write_report(path, lines, results, lafam):
    """`lines` and a closing line (how many pass, the versions, the date) as Markdown at `path`."""
    lines = lines + ["", f"{sum(r['ok'] for r in results)} of {len(results)} pass; torch {torch.__version__}, "
                     f"lafam {subprocess.run([lafam, '--version'], capture_output=True, text=True).stdout.strip()}, "
                     f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
