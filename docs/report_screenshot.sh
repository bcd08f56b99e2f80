#!/usr/bin/env bash
# The HTML report's first page (the verdict) as a PNG, as a reviewer sees it, with Debian's headless Chromium.
# Usage, in the run's working directory after `snakemake --report report.html`:
#   bash docs/report_screenshot.sh [report.html] [verdict.png] [width] [height]     (default 1400 x 900)
set -euo pipefail
report=${1:-report.html}
out=${2:-verdict.png}
width=${3:-1400}
height=${4:-900}
command -v chromium >/dev/null || { echo "chromium not found: install it with 'apt-get install -y chromium'" >&2; exit 1; }
[ -f "$report" ] || { echo "$report not found: make it with 'snakemake --report $report'" >&2; exit 1; }
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$width,$height" \
  --virtual-time-budget=5000 --screenshot="$out" "file://$(realpath "$report")" 2>/dev/null
echo "$out: $report at ${width}x${height}"
