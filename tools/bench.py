"""Side-by-side forward-pass timing: `lafam bench` and onnxruntime, interleaved in one run.

Run from the repository root after `swift build -c release` and `tools/setup-venv.sh`:

    .venv/bin/python tools/bench.py [MODEL ...] [--batch 1 8] [--threads 1 2] [--rounds 3] [--runs 20]

For every model × batch × thread count it alternates lafam and onnxruntime `--rounds` times
(each round: `--runs` timed forward passes after warm-up, model already loaded), takes the median
of each round's median, and prints one table row with both medians and the lafam/onnxruntime
ratio. Interleaving keeps both runtimes exposed to the same load on this shared 2-core machine.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=[os.path.join(ROOT, "Models", "mobilenet_v2.onnx")])
    parser.add_argument("--batch", type=int, nargs="+", default=[1])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--lafam", default=os.path.join(ROOT, ".build", "release", "lafam"))
    args = parser.parse_args()

    print(f"{'model':<22} {'batch':>5} {'thr':>3} {'lafam ms':>9} {'ort ms':>8} {'ratio':>6}  OpenBLAS core")
    for model in args.models:
        for batch in args.batch:
            for threads in args.threads:
                lafam, ort, core = [], [], "?"
                for _ in range(args.rounds):
                    r = run_json([args.lafam, "bench", model, "--batch", str(batch), "--threads", str(threads),
                                  "--runs", str(args.runs), "--json"])
                    lafam.append(r["median_ms"])
                    core = r.get("blasCore", core)
                    o = run_json([sys.executable, os.path.join(ROOT, "tools", "bench_onnxruntime.py"), model,
                                  "--batch", str(batch), "--threads", str(threads), "--runs", str(args.runs), "--json"])
                    ort.append(o["median_ms"])
                lm, om = statistics.median(lafam), statistics.median(ort)
                print(f"{os.path.basename(model):<22} {batch:>5} {threads:>3} {lm:>9.2f} {om:>8.2f} {lm / om:>6.2f}  {core}")


if __name__ == "__main__":
    main()
