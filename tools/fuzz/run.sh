#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (release; ASan + libFuzzer on the Swift code; ASan, UBSan and
# coverage on the C targets) into .build-fuzz/ and runs the requested targets one after another.
#
# Usage: tools/fuzz/run.sh [--seconds N] [--seed S] [--keep-going] [--build-only] [TARGET ...]
#   TARGET        FuzzONNXLoad FuzzModelRun FuzzImageDecode FuzzNPYDecode (default: all four)
#   --seconds N   libFuzzer -max_total_time per target (default 30)
#   --seed S      reproducible run: libFuzzer -seed=S, deterministic Swift hashing, a fresh corpus
#                 of the committed seeds only; the same S explores the same inputs in the same order
#   --keep-going  go on after a crash, timeout or OOM (libFuzzer -fork=1 -ignore_*=1: one worker)
#   --build-only  build, print the executables' folder and stop
# Exit status 0 when no target crashed, timed out, leaked or ran out of memory, 1 otherwise, 2 on a
# usage error. Findings: .build-fuzz/artifacts/<target>/; logs: .build-fuzz/logs/<target>.log.
set -euo pipefail

ALL_TARGETS=(FuzzONNXLoad FuzzModelRun FuzzImageDecode FuzzNPYDecode)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCRATCH="$ROOT/.build-fuzz"

usage() { sed -n '5,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

seconds=30
seed=""
keep_going=0
build_only=0
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || { usage >&2; exit 2; }; seconds="$2"; shift 2 ;;
        --seconds=*) seconds="${1#*=}"; [[ "$seconds" =~ ^[0-9]+$ ]] || { usage >&2; exit 2; }; shift ;;
        --seed) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || { usage >&2; exit 2; }; seed="$2"; shift 2 ;;
        --keep-going) keep_going=1; shift ;;
        --build-only) build_only=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
        *)
            known=0
            for t in "${ALL_TARGETS[@]}"; do [[ "$t" == "$1" ]] && known=1; done
            [[ $known == 1 ]] || { echo "unknown target: $1 (known: ${ALL_TARGETS[*]})" >&2; exit 2; }
            targets+=("$1"); shift ;;
    esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${ALL_TARGETS[@]}")

# Swift: libFuzzer (its driver is started by Fuzz/Sources/FuzzEntry) and ASan; -parse-as-library
# because the targets define LLVMFuzzerTestOneInput instead of top-level code. -Xcc reaches the C
# targets (CImageCodecs, CKernels, CONNXProto, FuzzEntry): ASan, UBSan and libFuzzer's coverage;
# the UBSan handlers come with the ASan runtime the Swift driver links. The system libraries
# (libpng, libjpeg, libprotobuf-c, OpenBLAS) are not instrumented.
BUILD=(swift build --package-path "$ROOT/Fuzz" --scratch-path "$SCRATCH" -c release
       -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
       -Xcc -fsanitize=fuzzer-no-link,address,undefined)

echo "==> ${BUILD[*]}"
start=$(date +%s)
"${BUILD[@]}"
echo "==> build took $(( $(date +%s) - start )) s"
BIN="$("${BUILD[@]}" --show-bin-path)"
if [[ $build_only == 1 ]]; then echo "$BIN"; exit 0; fi

dictionary() {
    case "$1" in
        FuzzONNXLoad|FuzzModelRun) echo "$ROOT/Fuzz/Dictionaries/onnx.dict" ;;
        FuzzImageDecode)
            # libFuzzer takes one -dict: the PNG and JPEG tokens merged.
            mkdir -p "$SCRATCH/dict"
            cat "$ROOT/Fuzz/Dictionaries/png.dict" "$ROOT/Fuzz/Dictionaries/jpeg.dict" > "$SCRATCH/dict/image.dict"
            echo "$SCRATCH/dict/image.dict" ;;
        FuzzNPYDecode) echo "$ROOT/Fuzz/Dictionaries/npy.dict" ;;
    esac
}

# Where each report in a log happened: its first two frames in lafam's sources (not Fuzz/), demangled.
frames() {
    awk '/ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:/ { want = 2; line = "" }
         want && /^ +#[0-9]+ 0x[0-9a-f]+ in / && /\/Sources\/[^ ]*:[0-9]+/ && !/\/Fuzz\/Sources\// {
             sub(/^ +#[0-9]+ 0x[0-9a-f]+ in /, ""); sub(/ [^ ]*\/Sources\//, " ")
             line = line (line == "" ? "" : "  <-  ") $0
             if (--want == 0) print line }' "$1" \
        | awk '!seen[$0]++' | swift demangle --simplified 2>/dev/null || true
}

# Let libFuzzer and ASan report Swift traps (the Swift runtime's backtracer trips over ASan);
# make a UBSan report in C fatal, so that it is saved as a crash.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

failed=0
summary=()
for t in "${targets[@]}"; do
    corpus="$SCRATCH/corpus/$t"
    if [[ -n "$seed" ]]; then
        # Swift's per-process random hashing changes dictionary order, hence coverage, hence what
        # libFuzzer keeps: fixed for a reproducible run, which also starts from the seeds alone.
        export SWIFT_DETERMINISTIC_HASHING=1
        corpus="$SCRATCH/corpus-seed-$seed/$t"
        rm -rf "$corpus"
    fi
    artifacts="$SCRATCH/artifacts/$t/"
    log="$SCRATCH/logs/$t.log"
    mkdir -p "$corpus" "$artifacts" "$SCRATCH/logs"
    # Working corpus: the committed seeds plus what earlier runs added; Fuzz/Corpus is only read.
    for file in "$ROOT/Fuzz/Corpus/$t"/*; do
        [[ -e "$corpus/$(basename "$file")" ]] || cp "$file" "$corpus/"
    done
    before="$(ls "$artifacts")"
    options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -dict="$(dictionary "$t")"
             -print_final_stats=1 -artifact_prefix="$artifacts")
    [[ -n "$seed" ]] && options+=(-seed="$seed")
    [[ $keep_going == 1 ]] && options+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)

    echo "==> $t: ${seconds} s, log $log"
    started=$(date +%s)
    set +e
    "$BIN/$t" "${options[@]}" "$corpus" > "$log" 2>&1
    rc=$?
    set -e
    elapsed=$(( $(date +%s) - started ))

    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    peak="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)"
    if [[ $keep_going == 1 ]]; then
        # Fork mode: the parent's last "#N: cov: ..." line counts every worker's executions.
        execs="$(sed -nE 's/^#([0-9]+): cov:.*/\1/p' "$log" | tail -1)"
        [[ -n "$execs" && $elapsed -gt 0 ]] && rate=$(( execs / elapsed ))
    fi
    found="$(comm -13 <(echo "$before") <(ls "$artifacts") | grep -E '^(crash|timeout|leak|oom)-' || true)"
    status="ok"
    if [[ -n "$found" || $rc != 0 ]]; then
        failed=1
        status="FAILED (exit $rc):"
        for kind in crash timeout leak oom; do
            n=$(grep -c "^$kind-" <<< "$found" || true)
            [[ $n -gt 0 ]] && status+=" $n $kind"
        done
        [[ -z "$found" ]] && status+=" no artifact (see the log)"
        if [[ $keep_going == 0 ]]; then
            echo "    $(grep -m1 -E 'ERROR: ' "$log" | sed -E 's/^==[0-9]+== ?//')"
            frames "$log" | head -1 | sed 's/^/      at /'
            sed "s|^|      input: $artifacts|" <<< "$found" | grep -v ': *$' || true
        else
            # Fork mode keeps the workers' reports to itself: rerun the first few findings for them.
            for a in $(head -5 <<< "$found"); do
                "$BIN/$t" -timeout=10 -rss_limit_mb=2048 "$artifacts$a" > "$SCRATCH/logs/$t.$a.log" 2>&1 || true
                echo "    $a: $(grep -m1 -E 'ERROR: ' "$SCRATCH/logs/$t.$a.log" | sed -E 's/^==[0-9]+== ?//')"
                frames "$SCRATCH/logs/$t.$a.log" | head -1 | sed 's/^/      at /'
            done
        fi
    fi
    summary+=("$(printf '%-16s executions %-10s exec/s %-7s peak %-5s MB  %s' "$t" "${execs:-?}" "${rate:-?}" "${peak:-?}" "$status")")
done

echo "==> summary (${seconds} s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
