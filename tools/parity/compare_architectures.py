"""Compare lafam's interpreter with onnxruntime, tensor by tensor, on every model in a folder (issue 3).

The one command that regenerates everything (models, lafam binary, comparison, table), from the
repository root after tools/setup-venv.sh:

    .venv/bin/python tools/parity/export_architectures.py && swift build -c release && \\
        .venv/bin/python tools/parity/compare_architectures.py --markdown .build-models/parity.md

Options: --models DIR (default `.build-models/`), --only NAME ... (model names, i.e. file names up to
the first dot, or whole file names), --lafam PATH (default `.build/release/lafam`), --markdown FILE,
--json FILE (every per-tensor result), --threads N (onnxruntime threads; lafam uses its default).

For each `*.onnx` in the folder and each batch size (1 and 4):
* Input: real photos, centre-cropped to the input's aspect ratio, Pillow bilinear resize to the input
  size, pixel/255, (x - mean)/std, NCHW float32. Batch 4 = the four sample photos in Models/samples
  (astronaut, chelsea, coffee, rocket), batch 1 = scikit-image's `camera` (grey, as RGB). Size = the
  model's static input size; mean/std from the metadata `lafam.mean`/`lafam.std`, else ImageNet.
  Channels-last inputs [N, H, W, 3] are fed as such; metadata `lafam.normalisation` "per-image
  standardisation" (FaceNet) standardises each photo by its own raw statistics instead of mean/std.
  Models with dynamic or text-shaped inputs use INPUTS below: MTCNN P-Net 144x192 (a pyramid level;
  (pixel - 127.5)/128 from its metadata), PP-OCRv4 det 256x320, PP-OCRv4 rec 48x320, PP-OCR cls
  48x192, all three BGR with (pixel/255 - 0.5)/0.5 as RapidOCR feeds them; their batch 1 is skimage's
  `page` and batch 4 is `page`, `text`, coffee and rocket.
* Reference: onnxruntime with graph optimisations off (ORT_DISABLE_ALL) and, added to graph.output,
  every float output of Conv, ConvTranspose, Relu, PRelu, LeakyRelu, Clip, Sigmoid, HardSigmoid,
  HardSwish, Gelu, Erf and Add nodes.
* lafam: `lafam taps MODEL --input x.npy --tensor NAME ... --output DIR --overwrite` with the same
  tensor names (split into several invocations when the argument list is long or two names map to the
  same file name). If lafam refuses, it is rerun without taps to tell a model-level error (unsupported
  op, attribute, ...) from a tap-level one; tap-level errors are bisected down to the names.
* Check, per tensor and per model output: same shape and max|lafam - ort| <= 1e-4 * max(1, max|ort|);
  "rel. error" is max|lafam - ort| / max(1, max|ort|).

Printed per model x variant x batch: tensors compared, worst tensor and its rel. error, pass/fail, and
for a failure the first failing tensor in topological order with its producer's op type. Exit status 1
if anything fails.
"""

import argparse
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

# fixture_common lives with the fixture generators in tools/fixtures/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures"))
from fixture_common import centre_fit  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/<folder>/<script>.py -> repository root
TOLERANCE = 1e-4
TAP_OPS = {"Conv", "ConvTranspose", "Relu", "PRelu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid",
           "HardSwish", "Gelu", "Erf", "Add"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_ARG_CHARS = 100_000  # per lafam invocation (Linux allows far more; keeps command lines readable)

SAMPLES = ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"]
OCR = dict(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), bgr=True,
           batch1=["skimage:page"], batch4=["skimage:page", "skimage:text", "coffee.jpg", "rocket.jpg"])
# model name (file name up to the first dot) -> input settings overriding the defaults
INPUTS = {
    "mtcnn_pnet": dict(size=(144, 192)),
    "ppocrv4_det": dict(size=(256, 320), **OCR),
    "ppocrv4_rec": dict(size=(48, 320), **OCR),
    "ppocr_mobile_v2_cls": dict(size=(48, 192), **OCR),
}
DEFAULT_BATCH1 = ["skimage:camera"]
DEFAULT_BATCH4 = SAMPLES


def safe_name(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def load_photo(ref):
    if ref.startswith("skimage:"):
        import skimage.data
        a = getattr(skimage.data, ref.split(":", 1)[1])()
        if a.ndim == 2:
            a = np.stack([a] * 3, axis=-1)
        return Image.fromarray(a[..., :3].astype(np.uint8))
    return Image.open(os.path.join(REPO, "Models", "samples", ref)).convert("RGB")


def preprocess(img, height, width, mean, std, bgr, nhwc=False, per_image=False):
    """Centre crop to the aspect ratio width:height, Pillow bilinear resize, /255, mean/std (or,
    per_image, each image standardised by its own raw 0-255 statistics as FaceNet's prewhiten),
    CHW (or HWC)."""
    x = centre_fit(img, height, width)
    if per_image:
        raw = x.astype(np.float64) * 255
        x = ((raw - raw.mean()) / max(raw.std(), 1 / np.sqrt(raw.size))).astype(np.float32)
    else:
        x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
    if bgr:
        x = x[..., ::-1]
    return np.ascontiguousarray(x if nhwc else x.transpose(2, 0, 1)).astype(np.float32)


def floats_from_meta(meta, key):
    if key in meta:
        try:
            v = tuple(float(s) for s in meta[key].split(","))
            if len(v) == 3:
                return v
        except ValueError:
            pass
    return None


def input_settings(model_name, proto):
    """Input name, (H, W), mean, std, BGR flag and the photo lists for batch 1 and batch 4."""
    init = {t.name for t in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in init]
    inp = inputs[0]
    dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in inp.type.tensor_type.shape.dim]
    meta = {p.key: p.value for p in proto.metadata_props}
    cfg = INPUTS.get(model_name, {})
    size = cfg.get("size")
    nhwc = len(dims) == 4 and dims[3] == 3 and dims[1] != 3
    if size is None:
        spatial = (dims[1], dims[2]) if nhwc else (dims[2], dims[3]) if len(dims) == 4 else (None, None)
        size = spatial if spatial[0] and spatial[1] else (224, 224)
    return dict(name=inp.name, size=size, nhwc=nhwc,
                per_image=meta.get("lafam.normalisation", "").startswith("per-image standardisation"),
                mean=cfg.get("mean") or floats_from_meta(meta, "lafam.mean") or IMAGENET_MEAN,
                std=cfg.get("std") or floats_from_meta(meta, "lafam.std") or IMAGENET_STD,
                bgr=cfg.get("bgr", False), batch1=cfg.get("batch1", DEFAULT_BATCH1),
                batch4=cfg.get("batch4", DEFAULT_BATCH4))


def topological_nodes(graph):
    """Kahn's algorithm, file order among ready nodes (ONNX files are usually already in order)."""
    known = {t.name for t in graph.initializer} | {i.name for i in graph.input} | {""}
    producers = {}
    for idx, n in enumerate(graph.node):
        for o in n.output:
            producers[o] = idx
    deps = []
    for n in graph.node:
        deps.append({producers[i] for i in n.input if i not in known and i in producers})
    users = collections.defaultdict(list)
    for idx, d in enumerate(deps):
        for p in d:
            users[p].append(idx)
    remaining = [len(d) for d in deps]
    import heapq
    ready = [i for i, r in enumerate(remaining) if r == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            remaining[u] -= 1
            if remaining[u] == 0:
                heapq.heappush(ready, u)
    order += [i for i in range(len(graph.node)) if i not in set(order)]
    return [graph.node[i] for i in order]


class Reference:
    """onnxruntime without optimisations, with the tapped tensors added to graph.output."""

    def __init__(self, proto, threads):
        self.nodes = topological_nodes(proto.graph)
        self.outputs = [o.name for o in proto.graph.output]
        self.producer = {}
        for n in self.nodes:
            for o in n.output:
                if o:
                    self.producer[o] = n
        present = set(self.outputs)
        candidates = []
        for n in self.nodes:
            if n.op_type in TAP_OPS and n.domain in ("", "ai.onnx"):
                for o in n.output[:1]:
                    if o and o not in present:
                        candidates.append(o)
                        present.add(o)
        tapped = onnx.ModelProto()
        tapped.CopyFrom(proto)
        for name in candidates:
            tapped.graph.output.append(onnx.ValueInfoProto(name=name))
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(tapped.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        types = {o.name: o.type for o in self.session.get_outputs()}
        self.taps = [c for c in candidates if types.get(c) in ("tensor(float)", "tensor(double)", "tensor(float16)")]
        order = {}
        for i, n in enumerate(self.nodes):
            for o in n.output:
                order.setdefault(o, i)
        # every tensor compared, in topological order of its producer (model outputs included)
        self.compared = sorted(set(self.taps) | set(self.outputs), key=lambda t: (order.get(t, len(order)), t))
        self.session_outputs = [o.name for o in self.session.get_outputs()]

    def run(self, input_name, x):
        values = self.session.run(None, {input_name: x})
        wanted = set(self.compared)
        return {name: v for name, v in zip(self.session_outputs, values) if name in wanted}

    def op_of(self, tensor):
        n = self.producer.get(tensor)
        return n.op_type if n is not None else "graph input"


def lafam_error(proc, model):
    lines = [l for l in (proc.stderr or "").strip().splitlines() if l.strip()]
    err = [l for l in lines if l.startswith("Error:")]
    msg = (err[-1] if err else (lines[-1] if lines else f"exit status {proc.returncode}"))
    msg = msg[len("Error:"):].strip() if msg.startswith("Error:") else msg
    return msg.replace(model, os.path.basename(model))


def run_lafam(lafam, model, xpath, names, outdir):
    cmd = [lafam, "taps", model, "--input", xpath, "--output", outdir, "--overwrite"]
    for n in names:
        cmd += ["--tensor", n]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def chunks_of(names, outputs):
    """Split the names into invocations: bounded argument length, no two names with the same file name."""
    chunks = []
    for n in names:
        for c in chunks:
            if c["chars"] + len(n) + 12 <= MAX_ARG_CHARS and safe_name(n) not in c["safe"]:
                break
        else:
            c = {"names": [], "safe": {safe_name(o) for o in outputs}, "chars": 0}
            chunks.append(c)
        c["names"].append(n)
        c["safe"].add(safe_name(n))
        c["chars"] += len(n) + 12
    return [c["names"] for c in chunks] or [[]]


def lafam_values(lafam, model, x, names, outputs, workdir):
    """Run lafam on x; returns ({tensor: array}, model_error or None, {tensor: tap error})."""
    xpath = os.path.join(workdir, "x.npy")
    np.save(xpath, x)
    values, tap_errors = {}, {}
    counter = [0]

    def attempt(subset):
        counter[0] += 1
        outdir = os.path.join(workdir, f"run{counter[0]}")
        proc = run_lafam(lafam, model, xpath, subset, outdir)
        if proc.returncode == 0:
            for n in list(subset) + list(outputs):
                p = os.path.join(outdir, safe_name(n) + ".npy")
                if os.path.exists(p) and n not in values:
                    values[n] = np.load(p)
            shutil.rmtree(outdir, ignore_errors=True)
            return None
        shutil.rmtree(outdir, ignore_errors=True)
        return lafam_error(proc, model)

    def bisect(subset):
        msg = attempt(subset)
        if msg is None:
            return
        if len(subset) == 1:
            tap_errors[subset[0]] = msg
            return
        half = len(subset) // 2
        bisect(subset[:half])
        bisect(subset[half:])

    for chunk in chunks_of(names, outputs):
        msg = attempt(chunk)
        if msg is None:
            continue
        plain = attempt([])  # does the model run at all?
        if plain is not None:
            return values, plain, tap_errors
        bisect(chunk)
    return values, None, tap_errors


def compare_arrays(got, ref):
    """(rel. error, problem or None)."""
    if got.shape != ref.shape:
        return float("inf"), f"shape {list(got.shape)} vs onnxruntime {list(ref.shape)}"
    g = got.astype(np.float64)
    r = ref.astype(np.float64)
    gn, rn = ~np.isfinite(g), ~np.isfinite(r)
    if gn.any() or rn.any():
        same = np.array_equal(gn, rn) and np.array_equal(np.nan_to_num(g[gn], nan=0.0), np.nan_to_num(r[rn], nan=0.0))
        if not same:
            return float("inf"), "non-finite values differ"
        g, r = g[~gn], r[~rn]
    if r.size == 0:
        return 0.0, None
    scale = max(1.0, float(np.abs(r).max()))
    rel = float(np.abs(g - r).max()) / scale
    return rel, (None if rel <= TOLERANCE else f"rel. error {rel:.2e}")


def documented_ops():
    """Op types listed in SPEC.md §7 (the supported-op table), or None if it cannot be read."""
    try:
        with open(os.path.join(REPO, "SPEC.md")) as f:
            text = f.read()
        section = text.split("## 7.", 1)[1].split("\n## ", 1)[0]
    except (OSError, IndexError):
        return None
    ops = set()
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| op ") and not line.startswith("|---"):
            for part in line.split("|")[1].split(","):
                m = re.match(r"\s*([A-Z][A-Za-z]*)", part)
                if m:
                    ops.add(m.group(1))
    return ops or None


def find_node_in(message, ref):
    """The node named in a lafam error message, if any (longest match)."""
    best = None
    for n in ref.nodes:
        for cand in [n.name] + [o for o in n.output if o]:
            if cand and cand in message and (best is None or len(cand) > len(best[0])):
                best = (cand, n)
    return best[1] if best else None


def check_one(path, model_name, variant, proto, ref, settings, batch, lafam, workdir):
    photos = settings["batch1"] if batch == 1 else settings["batch4"]
    h, w = settings["size"]
    x = np.stack([preprocess(load_photo(p), h, w, settings["mean"], settings["std"], settings["bgr"], settings["nhwc"], settings["per_image"])
                  for p in photos[:batch]])
    t0 = time.time()
    expected = ref.run(settings["name"], x)
    t_ort = time.time() - t0
    taps = [t for t in ref.compared if t not in set(ref.outputs)]
    # a tensor name equal to another node's name would resolve to that node's first output in lafam
    node_first = {n.name: (n.output[0] if n.output else None) for n in ref.nodes if n.name}
    unaddressable = [t for t in taps if t in node_first and node_first[t] != t]
    taps = [t for t in taps if t not in set(unaddressable)]
    t0 = time.time()
    got, model_error, tap_errors = lafam_values(lafam, path, x, taps, ref.outputs, workdir)
    t_lafam = time.time() - t0
    result = dict(model=model_name, variant=variant, batch=batch, file=os.path.basename(path),
                  photos=photos[:batch], input_shape=list(x.shape), ort_seconds=round(t_ort, 2),
                  lafam_seconds=round(t_lafam, 2), unaddressable=unaddressable, tensors=0, worst=None,
                  worst_rel=0.0, passed=False, first_failure=None, lafam_error=model_error, failures=0)
    if model_error is not None:
        node = find_node_in(model_error, ref)
        if node is not None:
            result["first_failure"] = dict(tensor=node.output[0] if node.output else node.name, op=node.op_type,
                                           problem="lafam refused: " + model_error)
        documented = documented_ops()
        if documented is not None:
            result["undocumented_ops"] = sorted({n.op_type for n in ref.nodes} - documented)
        return result
    per_tensor = []
    for name in ref.compared:
        if name in unaddressable:
            continue
        if name in tap_errors:
            rel, problem = float("inf"), "lafam refused the tap: " + tap_errors[name]
        elif name not in got:
            rel, problem = float("inf"), "lafam wrote no file"
        else:
            rel, problem = compare_arrays(got[name], expected[name])
        per_tensor.append(dict(tensor=name, op=ref.op_of(name), rel=rel, problem=problem))
    result["tensors"] = len(per_tensor)
    result["per_tensor"] = per_tensor
    if per_tensor:
        worst = max(per_tensor, key=lambda r: r["rel"])
        result["worst"], result["worst_rel"] = worst["tensor"], worst["rel"]
    failing = [r for r in per_tensor if r["problem"]]
    result["failures"] = len(failing)
    if failing:
        result["first_failure"] = dict(tensor=failing[0]["tensor"], op=failing[0]["op"], problem=failing[0]["problem"])
    result["passed"] = not failing and not unaddressable and bool(per_tensor)
    return result


def describe(r):
    if r.get("setup_error"):
        return f"FAIL (setup: {r['setup_error']})"
    if r["passed"]:
        return "pass"
    if r["lafam_error"] is not None:
        where = ""
        if r["first_failure"]:
            where = f" [first failing: {r['first_failure']['tensor']} ({r['first_failure']['op']})]"
        if r.get("undocumented_ops"):
            where += f" [op types not in SPEC.md §7: {', '.join(r['undocumented_ops'])}]"
        return f"FAIL lafam error: {r['lafam_error']}{where}"
    ff = r["first_failure"]
    if ff:
        return (f"FAIL {r['failures']}/{r['tensors']} tensors; first failing {ff['tensor']} "
                f"({ff['op']}): {ff['problem']}")
    if r["unaddressable"]:
        return f"FAIL {len(r['unaddressable'])} tensor names not addressable"
    return "FAIL nothing compared"


def fmt_rel(v):
    return "—" if v is None else ("inf" if v == float("inf") else f"{v:.1e}")


def source_revision():
    """The repository's HEAD commit, with `+ uncommitted changes` when the work tree differs."""
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "Sources", "Package.swift"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        return (head or "unknown") + (" + uncommitted changes under Sources/" if dirty else "")
    except OSError:
        return "unknown"


def markdown(results, total_seconds, lafam, binary_time):
    lines = ["| model | variant | batch 1 | batch 4 | tensors | worst rel. error | result / what fails |",
             "|---|---|---|---|---|---|---|"]
    groups = collections.OrderedDict()
    for r in results:
        groups.setdefault((r["model"], r["variant"]), {})[r["batch"]] = r
    for (model, variant), byb in groups.items():
        rs = [byb[b] for b in sorted(byb)]
        cells = []
        for b in (1, 4):
            cells.append("—" if b not in byb else ("pass" if byb[b]["passed"] else "FAIL"))
        tensors = "/".join(str(r["tensors"]) for r in rs)
        if len({r["tensors"] for r in rs}) == 1:
            tensors = str(rs[0]["tensors"])
        finite = [r for r in rs if r.get("worst") is not None]
        if finite:
            w = max(finite, key=lambda r: r["worst_rel"])
            worst = f"{fmt_rel(w['worst_rel'])} `{w['worst']}`"
        else:
            worst = "—"
        if all(r["passed"] for r in rs):
            what = "pass"
        else:
            bad = [r for r in rs if not r["passed"]]
            texts = collections.OrderedDict()
            for r in bad:
                texts.setdefault(describe(r), []).append(f"b{r['batch']}")
            what = "; ".join(f"{t} ({', '.join(bs)})" if len(texts) > 1 else t for t, bs in texts.items())
        what = what.replace("|", "\\|")
        lines.append(f"| {model} | {variant} | {cells[0]} | {cells[1]} | {tensors} | {worst} | {what} |")
    npass = sum(1 for r in results if r["passed"])
    lines += ["", f"{npass} of {len(results)} model × variant × batch runs pass "
                  f"(criterion: max|lafam − onnxruntime| ≤ 1e-4 · max(1, max|onnxruntime|) per tensor). "
                  f"Total runtime {total_seconds:.0f} s. lafam: `{lafam}` (binary built "
                  f"{binary_time}), source tree {source_revision()}; "
                  f"onnxruntime {ort.__version__}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=os.path.join(REPO, ".build-models"))
    ap.add_argument("--only", nargs="+", metavar="NAME")
    ap.add_argument("--lafam", default=os.path.join(REPO, ".build", "release", "lafam"))
    ap.add_argument("--markdown", metavar="FILE")
    ap.add_argument("--json", metavar="FILE", help="write every per-tensor result as JSON")
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 4])
    args = ap.parse_args()

    t_start = time.time()
    if not os.path.exists(args.lafam):
        sys.exit(f"lafam binary {args.lafam} not found: run `swift build -c release` first")
    version = subprocess.run([args.lafam, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True).stdout.strip()
    paths = sorted(glob.glob(os.path.join(args.models, "*.onnx")))
    if args.only:
        paths = [p for p in paths if os.path.basename(p).split(".")[0] in args.only or os.path.basename(p) in args.only]
    if not paths:
        sys.exit(f"no .onnx files in {args.models}" + (f" matching {args.only}" if args.only else ""))
    print(f"lafam: {args.lafam} ({version}); onnxruntime {ort.__version__}; {len(paths)} models", flush=True)
    results = []
    for path in paths:
        base = os.path.basename(path)
        model_name, rest = base.split(".", 1)
        tag = rest[: -len(".onnx")]
        t_model = time.time()
        try:
            proto = onnx.load(path)
            opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
            variant = tag if tag.startswith("opset") else f"{tag} (opset {opset})"
            settings = input_settings(model_name, proto)
            ref = Reference(proto, args.threads)
        except Exception as e:  # noqa: BLE001 - recorded, the others go on
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            for b in args.batches:
                results.append(dict(model=model_name, variant=tag, batch=b, file=base, tensors=0, worst=None,
                                    worst_rel=None, passed=False, first_failure=None, lafam_error=None,
                                    unaddressable=[], failures=0, setup_error=msg))
            print(f"{base}: setup failed: {msg}", flush=True)
            continue
        for b in args.batches:
            workdir = tempfile.mkdtemp(prefix="lafam-parity-")
            try:
                r = check_one(path, model_name, variant, proto, ref, settings, b, args.lafam, workdir)
            except Exception as e:  # noqa: BLE001
                msg = f"{type(e).__name__}: {e}".splitlines()[0]
                r = dict(model=model_name, variant=variant, batch=b, file=base, tensors=0, worst=None,
                         worst_rel=None, passed=False, first_failure=None, lafam_error=None, unaddressable=[],
                         failures=0, setup_error=msg)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            results.append(r)
            status = "PASS" if r["passed"] else "FAIL"
            print(f"{model_name} {variant} batch {b}: {r['tensors']} tensors, worst "
                  f"{r.get('worst')} rel {fmt_rel(r.get('worst_rel'))} -> {status}"
                  + ("" if r["passed"] else f": {describe(r)[len('FAIL '):]}")
                  + f"  [ort {r.get('ort_seconds', 0)} s, lafam {r.get('lafam_seconds', 0)} s]", flush=True)
        del ref, proto
        print(f"  ({base}: {time.time() - t_model:.1f} s)", flush=True)
    total = time.time() - t_start
    npass = sum(1 for r in results if r["passed"])
    print(f"{npass}/{len(results)} runs pass; total runtime {total:.1f} s")
    if args.markdown:
        with open(args.markdown, "w") as f:
            built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(os.path.getmtime(args.lafam)))
            f.write(markdown(results, total, version, built))
        print(f"wrote {args.markdown}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(total_seconds=total, lafam=version, results=results), f, indent=1,
                      default=lambda o: None)
        print(f"wrote {args.json}")
    sys.exit(0 if npass == len(results) else 1)


if __name__ == "__main__":
    main()
