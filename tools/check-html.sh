#!/usr/bin/env bash
# Opens lafam's HTML reports in a real headless browser (Debian's chromium) and checks them: the page
# loads from disk with no network, every inline image decodes (the page's own script records
# data-images="ok/total" on <html>), a sortable table sorts when its heading is clicked, and no
# resource is fetched from outside the page. Writes screenshots for the README.
#
# Usage: tools/check-html.sh [LAFAM]   (default .build/release/lafam; needs: apt-get install chromium)
# Writes Models/examples/report-run.png and report-eval.png; exits 1 on a failed check.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAFAM="${1:-$ROOT/.build/release/lafam}"
command -v chromium > /dev/null || { echo "check-html: chromium is not installed (apt-get install chromium)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
browser() { timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --disable-background-networking "$@" 2> "$work/chromium.log"; }

"$LAFAM" run --html --output "$work/run" --method lafam --method gradcam --method eigencam \
    "$ROOT/Models/samples/coffee.jpg" "$ROOT/Models/samples/chelsea.jpg" > /dev/null
mkdir -p "$work/eval"
"$LAFAM" eval --html --dataset "$ROOT/Models/evalset" --limit 12 --method lafam --method gradcam \
    --output "$work/eval/results.csv" > /dev/null

failed=0
for page in "$work/run/report.html" "$work/eval/results.html"; do
    name="$(basename "$(dirname "$page")")"
    # Self-contained: no src or href to anything but data: URIs and in-page anchors.
    if grep -Eo '(src|href)="[^"]*"' "$page" | grep -Ev '="(data:|#)' | head -3 | grep -q .; then
        echo "FAIL $name: the page refers to outside resources"; failed=1
    fi
    dom="$(browser --virtual-time-budget=10000 --dump-dom "file://$page")"
    images="$(sed -nE 's/.*<html[^>]* data-images="([0-9]+\/[0-9]+)".*/\1/p' <<< "$dom" | head -1)"
    if [[ -z "$images" || "${images%/*}" != "${images#*/}" || "${images#*/}" == 0 ]]; then
        echo "FAIL $name: images decoded: ${images:-none reported}"; failed=1
    else
        echo "ok   $name: $images images decoded"
    fi
    browser --window-size=1200,900 --screenshot="$ROOT/Models/examples/report-$name.png" "file://$page" > /dev/null
done

# Sorting: click the first sortable heading of the eval page twice and read the first column's order.
cat > "$work/sort.html" <<HTML
<!DOCTYPE html><html><body><iframe id="f" src="file://$work/eval/results.html" style="width:1px;height:1px"></iframe>
<script>document.getElementById("f").addEventListener("load",function(){
  var d=this.contentDocument,t=d.querySelectorAll("table.sortable")[1],th=t.querySelectorAll("th")[6];
  function col(){return Array.from(t.tBodies[0].rows).map(function(r){return parseFloat(r.cells[6].dataset.value)}).filter(function(v){return !isNaN(v)})}
  th.click();var up=col();th.click();var down=col();
  var sorted=up.every(function(v,i){return i==0||up[i-1]<=v})&&down.every(function(v,i){return i==0||down[i-1]>=v});
  document.body.dataset.sorted=(sorted&&up.length>1)?"yes":"no:"+up.join(",");});</script></body></html>
HTML
sortdom="$(browser --allow-file-access-from-files --virtual-time-budget=10000 --dump-dom "file://$work/sort.html")"
if grep -q 'data-sorted="yes"' <<< "$sortdom"; then echo "ok   eval: the table sorts both ways"; else echo "FAIL eval: sorting: $(grep -o 'data-sorted="[^"]*"' <<< "$sortdom")"; failed=1; fi
echo "screenshots: Models/examples/report-run.png, Models/examples/report-eval.png"
exit $failed
