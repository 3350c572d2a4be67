#!/usr/bin/env bash
# Installs the Debian packages lafam builds and tests with (run once on a fresh Debian machine
# with Swift): protobuf-c (ONNX parsing), OpenBLAS (GEMM), libpng and libjpeg-turbo (images),
# and ONNX's own test data (conformance suite). Uses sudo when not run as root.
set -euo pipefail
packages=(libprotobuf-c-dev protobuf-c-compiler libopenblas-dev libpng-dev libjpeg-dev libonnx-testdata pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "lafam: Debian packages already installed"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
