#!/usr/bin/env bash
# Installs the front-end libraries and the Vazirmatn font from npm and copies
# what the pages and the PDF renderer need into static/vendor/, with licences.
# static/vendor/ and node_modules/ are git-ignored: nothing third-party is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=static/vendor/.stamp
if [ -f "$stamp" ] && [ "$stamp" -nt package.json ] && [ "$stamp" -nt scripts/vendor.sh ]; then exit 0; fi
npm install --no-audit --no-fund --loglevel=error >/dev/null
v=static/vendor
rm -rf "$v"; mkdir -p "$v/socket.io" "$v/pdfjs" "$v/vazirmatn/fonts" "$v/chartjs" "$v/janus"
cp node_modules/socket.io-client/dist/socket.io.min.js "$v/socket.io/"
cp node_modules/socket.io-client/LICENSE "$v/socket.io/LICENSE"
cp node_modules/pdfjs-dist/build/pdf.min.mjs node_modules/pdfjs-dist/build/pdf.worker.min.mjs "$v/pdfjs/"
cp node_modules/pdfjs-dist/LICENSE "$v/pdfjs/LICENSE"
# pdf.js's own text-layer rules (the selectable, searchable, screen-readable text over the
# canvas), cut out of its viewer's stylesheet: the rest of that file styles a whole viewer
# and sets rules on :root. A new pdf.js that renames them fails here, not silently.
css=node_modules/pdfjs-dist/web/pdf_viewer.css
{ sed -n '/^\.textLayer{/,/^\.textLayerImages{/p' "$css" | sed '$d'; sed -n '/^\.hiddenCanvasElement{/,/^}/p' "$css"; } >"$v/pdfjs/text_layer.css"
grep -q '^\.textLayer :is(span,br){' "$v/pdfjs/text_layer.css" && grep -q '^\.hiddenCanvasElement{' "$v/pdfjs/text_layer.css" \
  || { echo "pdfjs-dist: the text-layer rules were not found in $css" >&2; exit 1; }
cp node_modules/vazirmatn/fonts/ttf/Vazirmatn-Regular.ttf node_modules/vazirmatn/fonts/ttf/Vazirmatn-Bold.ttf "$v/vazirmatn/fonts/"
cp node_modules/vazirmatn/fonts/webfonts/Vazirmatn-Regular.woff2 node_modules/vazirmatn/fonts/webfonts/Vazirmatn-Bold.woff2 "$v/vazirmatn/fonts/"
cp node_modules/vazirmatn/OFL.txt "$v/vazirmatn/OFL.txt"
cp node_modules/chart.js/dist/chart.umd.min.js "$v/chartjs/"
cp node_modules/chart.js/LICENSE.md "$v/chartjs/LICENSE.md"
# axe-core (devDependency) stays in node_modules: the accessibility test injects it into
# the page itself; no production page loads it.
# Audio/video: Janus's JavaScript API (global Janus) and webrtc-adapter (global adapter,
# loaded first).
cp node_modules/janus-gateway/npm/src/janus.js node_modules/webrtc-adapter/out/adapter.js "$v/janus/"
cp node_modules/janus-gateway/COPYING "$v/janus/COPYING.janus"
cp node_modules/webrtc-adapter/LICENSE.md "$v/janus/LICENSE.adapter"
touch "$stamp"
