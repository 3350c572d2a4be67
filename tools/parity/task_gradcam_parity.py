"""Grad-CAM on the task models (segmenters, detector, embedding model): lafam on the ONNX export against
pytorch-grad-cam 1.5.7 on the same torch model, with the target each task explains.

From the repository root, after tools/parity/export_task_models.py wrote the exports and
`swift build -c release`:

    .venv/bin/python tools/parity/task_gradcam_parity.py --markdown .build-models/task-gradcam-parity.md

Options: --models DIR (default `.build-models/`), --only NAME ... (file names up to the first dot,
or whole file names), --photos NAME ... (of Models/samples, default all four), --lafam PATH (default
`.build/release/lafam`), --markdown FILE.

The torch models are rebuilt by export_task_models.py's own export functions (same seeds, same
BatchNorm re-estimation and head rescaling), stopped where they would call torch_export, which
returns the torch module instead of exporting it; each is checked against onnxruntime on the photos
used here (max|ort - torch| <= 1e-4 * max(1, max|ort|), else the model fails and is not explained).
The four sample photos are preprocessed as compare_architectures.py does (centre crop, Pillow
bilinear resize to the model's input size, mean/std from the metadata `lafam.mean`/`lafam.std`: ImageNet
for the segmenters, pixel/255 for YOLOv8n, 127/128 for EfficientNet-Lite0) and fed to both sides as
the same batch-1 arrays, one lafam invocation per photo (lafam's --class, and a detection, hold for
a whole batch). Per model, pytorch-grad-cam's Grad-CAM raw map (np.maximum(get_cam_image), before
its resize; fixture_common.pytorch_grad_cam_raw) against lafam's `.raw.npy`:
* segmenters (fcn_resnet50, deeplabv3_mobilenet_v3_large): the class K covering most pixels of the
  torch arg-max map, summed over the pixels lafam predicts as K — SemanticSegmentationTarget(K, mask)
  with the mask from lafam's own logits (`lafam taps`), so that both sides explain the same sum —
  at the backbone's last block (FCN: `backbone.layer4`; DeepLabV3: `backbone['16']`, the 960-channel
  HardSwish conv); lafam: `run --class K --node T`, T the tensor that module writes (the last node
  under its name scope). Checked: lafam's printed pixel share of K equals its arg-max map's; where
  torch's arg-max differs from lafam's, the logit margins there are within the tolerance (near-ties);
  the map is then also compared with pgc on torch's own mask (printed, not a criterion).
* yolov8n: lafam `run --detections 1 --score-threshold 0` explains its best detection at its own
  scale's map; checked that (class, candidate) is the arg-max of the torch class scores (rows 4-83)
  and lafam's score equals it; pytorch-grad-cam explains `out[4 + class, candidate]` of that image's
  [84, 8400] output at `model.model[N]`, N read from lafam's target tensor `/model.N/...` (the neck's
  C2f outputs 15, 18, 21), which must be the last tensor under that scope.
* efficientnet_lite0_features: the cosine similarity of the input's embedding to a reference photo's
  (the next sample photo, saved as PNG so that both sides decode the same pixels) —
  pytorch-grad-cam's tutorial SimilarityToConceptTarget — at lafam's default target
  `/_swish_1/Clip_output_0`, the head activation ReLU6(_bn1(_conv_head)). EfficientNet's `_swish`
  module is called twice (stem and head), so a hook on it would record the stem too: for the hook it
  is replaced by HeadSplit, the same ReLU6 as two modules, and pytorch-grad-cam hooks the head one.
  lafam: `run X.npy --reference REF.png` (it preprocesses REF itself: the reference's preprocessed
  input from `lafam taps --tensor input` is checked against compare_architectures.preprocess), the
  input's `<stem>.gradcam.vs-<ref>.raw.npy`.
facenet.onnx is skipped: it is a TensorFlow model (tf2onnx), pytorch-grad-cam cannot run it.
Check per photo: same shape, max|lafam - pgc| <= 1e-4 * max(1, max|pgc|), the map not all zero, and
the per-task checks above. A map that fails is recomputed by pytorch-grad-cam with the torch model in
float64, and both float32 maps' errors against it are reported (which side is off). "err/peak" is
max|lafam - pgc| / max(pgc), since most maps here peak far below 1 (cosine and sigmoid-score targets).
About 8 minutes on 2 cores (rebuilding YOLOv8n and FCN-ResNet50 with their BatchNorm re-estimation is
most of it). Exit status 1 if anything fails.
"""

import argparse
import copy
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fixtures"))
import export_task_models as etm  # noqa: E402
from compare_architectures import DEFAULT_BATCH4, REPO, TOLERANCE, input_settings, load_photo, preprocess  # noqa: E402
from export_architectures import load_photos  # noqa: E402
from fixture_common import pytorch_grad_cam_raw, save_npy  # noqa: E402
from transformer_gradcam_parity import write_report  # noqa: E402
from transformer_gradcam_parity import module_at, onnx_tensor  # noqa: E402

# model -> (task, torch module path under the exported wrapper, ONNX name scope); YOLO's module follows
# lafam's target per photo.
MODELS = {
    "fcn_resnet50": ("segment", "net.backbone.layer4", "/net/backbone/layer4/"),
    "deeplabv3_mobilenet_v3_large": ("segment", "net.backbone['16']", "/net/backbone/backbone.16/"),
    "yolov8n": ("detect", None, None),
    "efficientnet_lite0_features": ("embed", "net._swish.head", "/_swish_1/"),
}
SKIPPED = {"facenet": "TensorFlow model (tf2onnx): pytorch-grad-cam cannot run it"}


class Captured(Exception):
    """Raised by the torch_export stand-in: carries the torch module export_task_models built."""


def build_torch(name, photos):
    """The torch module export_task_models.py exports for `name`, built by its own export function."""
    def capture(model, *args, **kwargs):
        raise Captured(model)

    saved = etm.torch_export
    etm.torch_export = capture
    try:
        if name == "yolov8n":
            etm.export_yolov8n(photos)
        elif name == "efficientnet_lite0_features":
            etm.export_efficientnet_features(photos)
        else:
            etm.export_segmenter(name, photos)
    except Captured as c:
        return c.args[0]
    finally:
        etm.torch_export = saved
    raise RuntimeError(f"export_task_models built {name} without calling torch_export")


class HeadSplit(torch.nn.Module):
    """EfficientNet's `_swish` as two modules: `head` for the head activation (channels of _conv_head),
    `stem` for the stem's; both the original parameter-free ReLU6, so the model computes the same."""

    def __init__(self, act, head_channels):
        super().__init__()
        self.stem, self.head, self.head_channels = act, copy.deepcopy(act), head_channels

    def forward(self, x):
        return self.head(x) if x.shape[1] == self.head_channels else self.stem(x)


class SimilarityToConceptTarget:
    """pytorch-grad-cam's tutorial target (Pixel Attribution for embeddings): cosine similarity."""

    def __init__(self, features):
        self.features = features

    def __call__(self, model_output):
        return torch.nn.CosineSimilarity(dim=0)(model_output, self.features)


def run_lafam(cmd):
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError("lafam: " + " ".join(proc.stderr.strip().splitlines()[-1:]))
    return json.loads(proc.stdout), seconds


def check(path, lafam, workdir, photos_for_bn, photo_names):
    stem = os.path.basename(path)
    name = stem.split(".")[0]
    task, torch_path, scope = MODELS[name]
    proto = onnx.load(path, load_external_data=False)
    settings = input_settings(name, proto)
    h, w = settings["size"]
    pre = lambda img: preprocess(img, h, w, settings["mean"], settings["std"], settings["bgr"])  # noqa: E731
    x = np.stack([pre(load_photo(p)) for p in photo_names])
    tensor = onnx_tensor(proto, scope) if scope else None
    model = build_torch(name, photos_for_bn)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)  # the YOLO export turns gradients off; pytorch-grad-cam needs them
    with torch.no_grad():
        out = model(torch.from_numpy(x)).numpy()
    ort_out = etm.ort_session(path).run(None, {settings["name"]: x})[0]
    del proto
    build_rel = float(np.abs(ort_out - out).max() / max(1.0, float(np.abs(ort_out).max())))
    base = dict(model=stem, build_rel=build_rel, pgc_seconds=0.0, lafam_seconds=0.0)
    if build_rel > TOLERANCE:
        return dict(base, ok=False, detail=f"torch rebuild differs from the export: rel {build_rel:.1e}")
    if name == "efficientnet_lite0_features":
        net = model.net
        net._swish = HeadSplit(net._swish, net._conv_head.out_channels)

    rows, errors = [], []
    for i, photo in enumerate(photo_names):
        pstem = os.path.splitext(photo)[0]
        xpath = os.path.join(workdir, f"{pstem}.npy")
        save_npy(xpath, x[i:i + 1])
        outdir = os.path.join(workdir, f"{stem}.{pstem}")
        cmd = [lafam, "run", "--model", path, xpath, "--method", "gradcam", "--npy", "--json", "--output", outdir,
               "--overwrite"]
        row = dict(photo=pstem)
        if task == "segment":
            # The class: the one covering most pixels of torch's arg-max map. The mask: lafam's own arg-max
            # map (its logits from `lafam taps`), so both sides explain the same sum; where torch's arg-max
            # differs (logit near-ties, float rounding) the differing pixels and their logit margins are
            # reported and the map is also compared with pgc on torch's own mask (secondary, not a criterion).
            labels = out[i].argmax(axis=0)
            counts = np.bincount(labels.ravel(), minlength=out.shape[1])
            k = int(counts.argmax())
            tapdir = os.path.join(workdir, f"taps.{stem}.{pstem}")
            t0 = time.time()
            tp = subprocess.run([lafam, "taps", path, "--input", xpath, "--tensor", settings["name"], "--output",
                                 tapdir, "--overwrite"], capture_output=True, text=True)
            base["lafam_taps_seconds"] = base.get("lafam_taps_seconds", 0.0) + time.time() - t0
            if tp.returncode != 0:
                raise RuntimeError("lafam taps: " + tp.stderr.strip())
            lafam_logits = np.load(os.path.join(tapdir, "logits.npy"))[0]
            lafam_labels = lafam_logits.argmax(axis=0)
            mask = (lafam_labels == k).astype(np.float32)
            share = float(mask.mean())
            differ = (labels == k) != (lafam_labels == k)
            other = np.where(labels == k, lafam_labels, labels)  # the class the other side picked there
            margins = np.abs(np.take_along_axis(out[i], other[None], 0)[0] - out[i, k])[differ]
            row["mask_differs_px"] = int(differ.sum())
            row["mask_margin"] = float(margins.max()) if margins.size else 0.0
            if row["mask_margin"] > TOLERANCE * max(1.0, float(np.abs(out[i]).max())):
                errors.append(f"{pstem}: torch's and lafam's arg-max of class {k} differ at {int(differ.sum())} px "
                              f"with logit margins up to {row['mask_margin']:.1e} (more than rounding)")
            from pytorch_grad_cam.utils.model_targets import SemanticSegmentationTarget
            targets = [SemanticSegmentationTarget(k, mask)]
            torch_targets = [SemanticSegmentationTarget(k, (labels == k).astype(np.float32))]
            layer, expect = module_at(model, torch_path), tensor
            cmd += ["--class", str(k), "--node", tensor]
            row["explained"] = f"{pstem}: class {k} ({100 * share:.1f}% px)"
        elif task == "detect":
            doc, secs = run_lafam(cmd + ["--detections", "1", "--score-threshold", "0"])
            base["lafam_seconds"] += secs
            rec = [r for r in doc["images"] if r.get("detection")][0]
            det, entry = rec["detection"], rec["maps"][0]
            scores = out[i, 4:]
            cand = int(scores.max(axis=0).argmax())
            cls = int(scores[:, cand].argmax())
            wh = out[i, 2:4, cand]
            if (cls, cand) != (det["class"], det["candidate"]):
                errors.append(f"{pstem}: lafam explains class {det['class']} candidate {det['candidate']}, the "
                              f"arg-max is class {cls} candidate {cand} (box w,h {wh[0]:.1f},{wh[1]:.1f})")
            if abs(det["score"] - float(scores[cls, cand])) > TOLERANCE:
                errors.append(f"{pstem}: lafam score {det['score']:.6g} != torch {scores[cls, cand]:.6g}")
            m = re.match(r"^/model\.(\d+)/", entry["target"])
            if not m:
                raise RuntimeError(f"unexpected YOLO target {entry['target']}")
            n = int(m.group(1))
            layer, expect = model.model[n], onnx_tensor(onnx.load(path, load_external_data=False), f"/model.{n}/")
            targets = [lambda o, c=det["class"], a=det["candidate"]: o[4 + c, a]]
            row["explained"] = f"{pstem}: class {det['class']} @ {det['candidate']} (score {det['score']:.3g})"
            row["torch_module"] = f"model.model[{n}] ({type(layer).__name__})"
        else:  # embed
            ref_name = photo_names[(i + 1) % len(photo_names)]
            rstem = os.path.splitext(ref_name)[0]
            ref_png = os.path.join(workdir, f"{rstem}.png")
            load_photo(ref_name).save(ref_png)
            ref_x = pre(load_photo(ref_name))[None]
            tapdir = os.path.join(workdir, f"taps.{rstem}")
            tp = subprocess.run([lafam, "taps", path, "--input", ref_png, "--tensor", settings["name"], "--output",
                                 tapdir, "--overwrite"], capture_output=True, text=True)
            if tp.returncode != 0:
                raise RuntimeError("lafam taps: " + tp.stderr.strip())
            ref_diff = float(np.abs(np.load(os.path.join(tapdir, settings["name"] + ".npy")) - ref_x).max())
            if ref_diff > 1e-5:
                errors.append(f"{pstem}: lafam's preprocessing of {rstem}.png differs by {ref_diff:.1e}")
            with torch.no_grad():
                features = model(torch.from_numpy(ref_x))[0]
            cosine = float(torch.nn.CosineSimilarity(dim=0)(torch.from_numpy(out[i]), features))
            targets = [SimilarityToConceptTarget(features)]
            targets64 = [SimilarityToConceptTarget(features.double())]
            layer, expect = module_at(model, torch_path), tensor
            cmd += ["--reference", ref_png]
            row["explained"] = f"{pstem} vs {rstem} (cos {cosine:.3f})"

        if task != "detect":
            doc, secs = run_lafam(cmd)
            base["lafam_seconds"] += secs
            rec = [r for r in doc["images"] if r["input"] == xpath or os.path.basename(r["input"]) == f"{pstem}.npy"][0]
            entry = rec["maps"][0]
        if task == "segment":
            if entry.get("classes") not in ([k], k):
                errors.append(f"{pstem}: lafam explained classes {entry.get('classes')}, not {k}")
            shares = {c["class"]: c["share"] for p in rec.get("pixels", []) for c in p["classes"]}
            row["lafam_share"] = shares.get(k)
            if shares.get(k) is None or abs(shares[k] - share) * mask.size > 0.5:
                errors.append(f"{pstem}: lafam's pixel share of class {k} {shares.get(k)} vs its arg-max's {share:.6f}")
        if entry["target"] != expect:
            errors.append(f"{pstem}: lafam explained {entry['target']}, not {expect}")
        t0 = time.time()
        ref, _ = pytorch_grad_cam_raw(model, layer, x[i:i + 1], None, targets)
        base["pgc_seconds"] += time.time() - t0
        raw = entry["files"]["raw"]
        got = np.load(raw if os.path.isabs(raw) else os.path.join(os.getcwd(), raw))
        if got.size != ref.size:
            errors.append(f"{pstem}: lafam map {list(got.shape)} vs pgc {list(ref.shape)}")
            row.update(rel=float("inf"), of_peak=float("inf"), peak=float(ref.max()), shape=list(ref.shape),
                       tensor=entry["target"])
        else:
            got = got.reshape(ref.shape)
            rel = float(np.abs(got - ref).max() / max(1.0, float(np.abs(ref).max())))
            row.update(rel=rel, peak=float(ref.max()), of_peak=float(np.abs(got - ref).max() / max(ref.max(), 1e-30)),
                       shape=list(ref.shape[1:]), tensor=entry["target"])
            if rel > TOLERANCE:
                # Which side is off: pytorch-grad-cam again with the torch model in float64.
                model.double()
                try:
                    ref64, _ = pytorch_grad_cam_raw(model, layer, x[i:i + 1].astype(np.float64), None,
                                                    targets64 if task == "embed" else targets)
                finally:
                    model.float()
                scale64 = max(1.0, float(np.abs(ref64).max()))
                row["rel_lafam_f64"] = float(np.abs(got - ref64).max() / scale64)
                row["rel_pgc_f64"] = float(np.abs(ref - ref64).max() / scale64)
                errors.append(f"{pstem}: rel {rel:.1e} (against pgc in float64: lafam {row['rel_lafam_f64']:.1e}, "
                              f"pgc float32 {row['rel_pgc_f64']:.1e})")
            if not ref.max() > 0:
                errors.append(f"{pstem}: pgc map all zero")
            if task == "segment" and row["mask_differs_px"]:
                alt, _ = pytorch_grad_cam_raw(model, layer, x[i:i + 1], None, torch_targets)  # not timed
                row["rel_torch_mask"] = float(np.abs(got - alt).max() / max(1.0, float(np.abs(alt).max())))
        rows.append(row)
        print(f"  {stem} {row['explained']}: {row['tensor']} {row['shape']} rel {row['rel']:.1e} "
              f"peak {row['peak']:.3g} err/peak {row['of_peak']:.1e}" + (f" [{row['torch_module']}]" if "torch_module" in row else "")
              + (f" lafam share {row['lafam_share']}; torch's mask differs at {row['mask_differs_px']} px (logit "
                 f"margins <= {row['mask_margin']:.1e}; with torch's mask rel {row.get('rel_torch_mask', row['rel']):.1e})"
                 if task == "segment" else ""), flush=True)
    return dict(base, ok=not errors, rows=rows, task=task, detail="; ".join(errors),
                rel=max(r["rel"] for r in rows), peak=min(r["peak"] for r in rows),
                of_peak=max(r["of_peak"] for r in rows))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=os.path.join(REPO, ".build-models"))
    ap.add_argument("--only", nargs="+")
    ap.add_argument("--photos", nargs="+", default=[os.path.splitext(p)[0] for p in DEFAULT_BATCH4])
    ap.add_argument("--lafam", default=os.path.join(REPO, ".build", "release", "lafam"))
    ap.add_argument("--markdown")
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    photo_names = [p if p.endswith(".jpg") else p + ".jpg" for p in args.photos]
    paths = sorted(p for p in glob.glob(os.path.join(args.models, "*.onnx")) if os.path.basename(p).split(".")[0] in MODELS)
    if args.only:
        paths = [p for p in paths if os.path.basename(p) in args.only or os.path.basename(p).split(".")[0] in args.only]
    photos = load_photos()
    results = []
    start = time.time()
    with tempfile.TemporaryDirectory() as work:
        for p in paths:
            t0 = time.time()
            try:
                r = check(p, args.lafam, work, photos, photo_names)
            except Exception as e:  # noqa: BLE001 - reported, the others go on
                traceback.print_exc()
                r = dict(model=os.path.basename(p), ok=False, detail=f"{type(e).__name__}: {e}")
            results.append(r)
            print(f"{r['model']}: {'PASS' if r['ok'] else 'FAIL'} rel {r.get('rel', float('nan')):.1e} "
                  f"(torch rebuild vs ort {r.get('build_rel', float('nan')):.1e}) {time.time() - t0:.0f} s "
                  f"{r.get('detail', '')}", flush=True)
    print(f"{time.time() - start:.0f} s in all")
    if args.markdown:
        lines = ["# Grad-CAM on task models: lafam vs pytorch-grad-cam 1.5.7", "",
                 "Generated by `tools/parity/task_gradcam_parity.py` (its docstring says how). Sample photos "
                 f"{', '.join(os.path.splitext(p)[0] for p in photo_names)}, one batch-1 array each; criterion "
                 "max|lafam − pgc| ≤ 1e-4 · max(1, max|pgc|) per image, map not all zero. Segmenters: the most "
                 "covered class over its arg-max pixels (SemanticSegmentationTarget); YOLOv8n: the best "
                 "detection's class score at its scale's map; embedding: cosine similarity to the next photo "
                 "(SimilarityToConceptTarget). \"peak\" is the smallest per-image max of the pgc map, \"err/peak\" "
                 "the largest max|lafam − pgc| / max(pgc) (the criterion's max(1, ·) is loose for maps this small).", "",
                 "| export | explained | tensor | raw map | peak | rel. error | err/peak | pgc s | lafam s | result |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for r in results:
            rows = r.get("rows", [])
            tensors = sorted({x["tensor"] for x in rows})
            shapes = sorted({str(x["shape"]) for x in rows})
            lines.append(f"| {r['model']} | {'; '.join(x['explained'] for x in rows)} | "
                         f"{', '.join('`' + t + '`' for t in tensors)} | {', '.join(shapes)} | {r.get('peak', float('nan')):.3g} | "
                         f"{r.get('rel', float('nan')):.1e} | {r.get('of_peak', float('nan')):.1e} | {r.get('pgc_seconds', 0):.1f} | {r.get('lafam_seconds', 0):.1f} | "
                         f"{'pass' if r['ok'] else 'FAIL ' + str(r.get('detail', ''))} |")
        for name, why in SKIPPED.items():
            lines.append(f"| {etm.FILES[name]} | — | — | — | — | — | — | — | — | skipped: {why} |")
        if any("float64" in r.get("detail", "") for r in results):
            lines += ["", "A failing map is recomputed by pytorch-grad-cam in float64; the FAIL text gives lafam's and "
                      "pytorch-grad-cam's float32 errors against it (same scale as rel. error)."]
        write_report(args.markdown, lines, results, args.lafam)
    return 0 if results and all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
