#!/usr/bin/env bash
# Regenerates the committed protobuf-c code for lafam's trimmed onnx.proto.
# Needs Debian's protobuf-c-compiler (protoc-c). Run from anywhere: bash tools/gen-proto.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
protoc-c --proto_path="$root/tools" --c_out="$out" "$root/tools/onnx.proto"
mv "$out/onnx.pb-c.h" "$root/Sources/CONNXProto/include/onnx.pb-c.h"
sed 's|#include "onnx.pb-c.h"|#include "include/onnx.pb-c.h"|' "$out/onnx.pb-c.c" > "$root/Sources/CONNXProto/onnx.pb-c.c"
rm -rf "$out"
echo "regenerated Sources/CONNXProto from tools/onnx.proto"
