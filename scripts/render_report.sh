#!/usr/bin/env bash
# Render an autocnn report.html in a real headless browser and save a full-page screenshot.
#
# Usage:   scripts/render_report.sh REPORT.html [SCREENSHOT.png] [WIDTH] [HEIGHT]
# Example: autocnn report runs/kmnist && scripts/render_report.sh runs/kmnist/report/report.html
#
# Needs Debian's chromium (apt-get install -y chromium). The browser runs with networking
# features off and a throw-away profile: the page must render from the file alone, which is
# how we check that report.html is self-contained. Then look at the screenshot.
set -euo pipefail

html=${1:?usage: scripts/render_report.sh REPORT.html [SCREENSHOT.png] [WIDTH] [HEIGHT]}
shot=${2:-${html%.html}.png}
width=${3:-1280}
height=${4:-4000}

browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z "$browser" ]]; then
    echo "render_report.sh: no chromium found; install it: apt-get update && apt-get install -y chromium" >&2
    exit 2
fi
if [[ ! -f "$html" ]]; then
    echo "render_report.sh: $html does not exist; run 'autocnn report RUN' first" >&2
    exit 2
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
url="file://$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --hide-scrollbars --screenshot="$shot" --window-size="$width,$height" "$url" 2>/dev/null
echo "wrote $shot ($width x $height) from $url"
