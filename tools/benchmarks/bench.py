"""Side-by-side forward-pass timing and peak memory: `lafam bench` against onnxruntime, interleaved.

Run from the repository root after `swift build -c release` and `tools/setup-venv.sh`:

    tools/bench [MODEL ...] [--batch 1 8] [--threads 1 2] [--rounds 3] [--runs N] [--warmup 3]
                [--coretype CORE ...] [--skylakex] [--markdown FILE] [--lafam PATH]

`tools/bench` only runs this script with `.venv/bin/python`; `.venv/bin/python tools/benchmarks/bench.py ...` is the same.

Default models: ResNet-50, the bundled MobileNetV2, DenseNet-121 and ConvNeXt-Tiny, i.e.
`.build-models/resnet50.opset17.onnx`, `Models/mobilenet_v2.onnx`, `.build-models/densenet121.opset17.onnx`,
`.build-models/convnext_tiny.opset17.onnx`. The `.build-models/` files are made by
`.venv/bin/python tools/parity/export_architectures.py --only resnet50 densenet121 convnext_tiny --opsets 17`
(the script prints that command when one is missing).

For every model x batch x thread count ("case") it alternates, `--rounds` times, `lafam bench ... --json`
(`.build/release/lafam`, OpenBLAS limited to the thread count) and `tools/benchmarks/bench_onnxruntime.py ... --json`
(CPU provider, default graph optimisations, the same intra-op thread count), each run in its own
process: `--warmup` untimed forward passes, then `--runs` timed ones, model already loaded. Interleaving
keeps both runtimes exposed to the same load on this shared 2-core machine. `--runs` defaults to
max(10, ceil(40 / batch)): 40 at batch 1, 10 at batch 8. The default matrix (4 models x 2 batches x
2 thread counts x 3 rounds) should take about 13 minutes on this machine when it is otherwise idle,
about 20 with `--skylakex` (estimated from single forward-pass timings; ConvNeXt-Tiny dominates).

`--coretype CORE` (repeatable; `--skylakex` is `--coretype SKYLAKEX`) adds, in every round, one more
lafam process with the environment variable OPENBLAS_CORETYPE=CORE, and one more table row per case.
onnxruntime does not use OpenBLAS; those rows repeat the case's onnxruntime figures.

One table row per case and lafam variant, printed as soon as the case is done:

    model          file name
    batch, thr     batch size, thread count
    runs           timed forward passes per process
    CORETYPE       OPENBLAS_CORETYPE given to lafam ("-": unset)
    OpenBLAS core  the OpenBLAS kernel set lafam reported using (`blasCore`)
    lafam ms       median over the rounds of lafam's per-process median forward time
    ort ms         the same for onnxruntime
    ratio          lafam ms / ort ms (below 1: lafam is faster)
    lafam MB       peak resident memory of the lafam process (largest over the rounds)
    ort MB         peak resident memory of the onnxruntime process, Python interpreter included
    ort base MB    the onnxruntime process's resident memory right after importing numpy and
                   onnxruntime, before the session is created: the interpreter's share of `ort MB`
    MB ratio       lafam MB / ort MB

Peak memory is getrusage's ru_maxrss in each child process. Linux carries a parent's peak into that
figure across fork and exec, so this script keeps its own footprint small (about 15 MB, less than any
child's) and must not import numpy or onnxruntime itself.

`--markdown FILE` also writes the table as Markdown (rewritten after every case, so an interrupted run
keeps its finished rows), under a line naming the machine: `nproc`, the CPU model from /proc/cpuinfo,
lafam's default OpenBLAS core, the onnxruntime version and the date.
"""

import argparse
import datetime
import json
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/<folder>/<script>.py -> repository root
ORT_SCRIPT = os.path.join(ROOT, "tools", "benchmarks", "bench_onnxruntime.py")
DEFAULT_MODELS = [os.path.join(ROOT, path) for path in (
    ".build-models/resnet50.opset17.onnx",
    "Models/mobilenet_v2.onnx",
    ".build-models/densenet121.opset17.onnx",
    ".build-models/convnext_tiny.opset17.onnx",
)]
# Default --runs: enough timed passes for about IMAGES_PER_CASE images, never fewer than MIN_RUNS.
IMAGES_PER_CASE = 40
MIN_RUNS = 10

# Table columns: header, alignment ("<" left, ">" right), minimum text width.
COLUMNS = [
    ("model", "<", 0), ("batch", ">", 5), ("thr", ">", 3), ("runs", ">", 4), ("CORETYPE", "<", 8),
    ("OpenBLAS core", "<", 13), ("lafam ms", ">", 9), ("ort ms", ">", 9), ("ratio", ">", 5),
    ("lafam MB", ">", 8), ("ort MB", ">", 6), ("ort base MB", ">", 11), ("MB ratio", ">", 8),
]


def fail(message):
    sys.exit(f"tools/bench: {message}")


def check_inputs(lafam, models):
    """Exit with a clear message if the lafam binary or a model file is missing."""
    if not os.access(lafam, os.X_OK):
        fail(f"no lafam binary at {lafam}; build it with `swift build -c release` (or pass --lafam PATH)")
    missing = [model for model in models if not os.path.isfile(model)]
    if not missing:
        return
    lines = [f"model not found: {model}" for model in missing]
    exports_dir = os.path.join(ROOT, ".build-models")
    exported = [re.fullmatch(r"(\w+)\.opset(\d+)\.onnx", os.path.basename(model)) for model in missing
                if os.path.dirname(os.path.abspath(model)) == exports_dir]
    exported = [match for match in exported if match]
    if exported:
        names = " ".join(sorted({match[1] for match in exported}))
        opsets = " ".join(sorted({match[2] for match in exported}, key=int))
        lines.append(f"export it from the repository root with:\n"
                     f"    .venv/bin/python tools/parity/export_architectures.py --only {names} --opsets {opsets}")
    fail("\n".join(lines))


def run_json(cmd, env=None):
    """Run one benchmark process and return the JSON object on the last line of its output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        fail(f"`{shlex.join(cmd)}` exited with status {proc.returncode}:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_case(args, coretypes, model, batch, threads, runs):
    """Alternate every lafam variant and onnxruntime args.rounds times.

    Returns ({coretype: [lafam result, ...]}, [onnxruntime result, ...]); coretype None is lafam in the
    inherited environment.
    """
    common = [model, "--batch", str(batch), "--threads", str(threads), "--runs", str(runs),
              "--warmup", str(args.warmup), "--json"]
    lafam = {core: [] for core in coretypes}
    ort = []
    for _ in range(args.rounds):
        for core in coretypes:
            env = None if core is None else {**os.environ, "OPENBLAS_CORETYPE": core}
            lafam[core].append(run_json([args.lafam, "bench", *common], env))
        ort.append(run_json([sys.executable, ORT_SCRIPT, *common]))
    return lafam, ort


def table_row(model, batch, threads, runs, coretype, lafam, ort):
    """One row of table cells (strings) for one lafam variant of a case."""
    lafam_ms = statistics.median(r["medianMs"] for r in lafam)
    ort_ms = statistics.median(r["medianMs"] for r in ort)
    lafam_mb = max(r["peakRssMb"] for r in lafam)
    ort_mb = max(r["peakRssMb"] for r in ort)
    ort_base_mb = max(r["baselineRssMb"] for r in ort)
    core = "/".join(sorted({r["blasCore"] for r in lafam}))
    return [os.path.basename(model), str(batch), str(threads), str(runs), coretype or "-", core,
            f"{lafam_ms:.2f}", f"{ort_ms:.2f}", f"{lafam_ms / ort_ms:.2f}",
            f"{lafam_mb:.0f}", f"{ort_mb:.0f}", f"{ort_base_mb:.0f}", f"{lafam_mb / ort_mb:.2f}"]


def text_line(cells, widths):
    return "  ".join(f"{cell:{align}{width}}" for cell, (_, align, _), width in zip(cells, COLUMNS, widths))


def machine_line(blas_core, ort_version, started):
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown")
    return (f"Machine: nproc {len(os.sched_getaffinity(0))}, CPU {cpu}, OpenBLAS core {blas_core}, "
            f"onnxruntime {ort_version}, {started:%Y-%m-%d %H:%M}")


def write_markdown(path, machine, command, rows):
    lines = [
        "# lafam vs onnxruntime: forward pass", "",
        machine, "",
        f"Command: `{command}`", "",
        "Times are medians (ms) over the rounds of each process's median forward pass; MB is peak resident "
        "memory; `ort base MB` is onnxruntime's process after its imports, before the session.", "",
        "| " + " | ".join(header for header, _, _ in COLUMNS) + " |",
        "|" + "|".join("---:" if align == ">" else "---" for _, align, _ in COLUMNS) + "|",
        *("| " + " | ".join(cells) + " |" for cells in rows),
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(prog="tools/bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=DEFAULT_MODELS, metavar="MODEL")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3, help="lafam/onnxruntime alternations per case (default 3)")
    parser.add_argument("--runs", type=int,
                        help=f"timed passes per process (default max({MIN_RUNS}, ceil({IMAGES_PER_CASE} / batch)))")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes per process (default 3)")
    parser.add_argument("--coretype", action="append", default=[], metavar="CORE",
                        help="also run lafam with OPENBLAS_CORETYPE=CORE (repeatable)")
    parser.add_argument("--skylakex", action="append_const", dest="coretype", const="SKYLAKEX",
                        help="same as --coretype SKYLAKEX")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown to FILE")
    parser.add_argument("--lafam", default=os.path.join(ROOT, ".build", "release", "lafam"))
    args = parser.parse_args()
    if min(args.batch + args.threads) < 1 or args.rounds < 1 or (args.runs is not None and args.runs < 1) \
            or args.warmup < 0:
        fail("--batch, --threads, --rounds and --runs must be >= 1, --warmup >= 0")
    check_inputs(args.lafam, args.models)

    coretypes = [None, *dict.fromkeys(args.coretype)]
    labels = {None: os.environ.get("OPENBLAS_CORETYPE"), **{core: core for core in args.coretype}}
    command = shlex.join(["tools/bench", *sys.argv[1:]])
    started = datetime.datetime.now()
    t0 = time.monotonic()

    widths = [max(len(header), width) for header, _, width in COLUMNS]
    widths[0] = max(widths[0], *(len(os.path.basename(model)) for model in args.models))
    print(text_line([header for header, _, _ in COLUMNS], widths), flush=True)
    rows, machine = [], None
    for model in args.models:
        for batch in args.batch:
            runs = args.runs or max(MIN_RUNS, math.ceil(IMAGES_PER_CASE / batch))
            for threads in args.threads:
                lafam, ort = measure_case(args, coretypes, model, batch, threads, runs)
                if machine is None:
                    machine = machine_line(lafam[None][0]["blasCore"], ort[0]["onnxruntime"], started)
                for core in coretypes:
                    rows.append(table_row(model, batch, threads, runs, labels[core], lafam[core], ort))
                    print(text_line(rows[-1], widths), flush=True)
                if args.markdown:
                    write_markdown(args.markdown, machine, command, rows)
    print(f"\n{machine}\nElapsed: {(time.monotonic() - t0) / 60:.1f} min")
    if args.markdown:
        print(f"Markdown table written to {args.markdown}")


if __name__ == "__main__":
    main()
