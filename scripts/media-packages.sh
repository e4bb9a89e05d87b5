#!/usr/bin/env bash
# Audio/video for the hearing rooms: Janus (VideoRoom), janus-tools (janus-pp-rec), coturn
# and ffmpeg, from Debian. Installed when missing and this runs as root; otherwise the
# command to run is printed and the set-up goes on (the rooms then work without
# audio/video and say so). `heyat serve` runs Janus and coturn itself with configs of its
# own under var/media/: the packages' stock system services (demo rooms, a well-known
# admin secret, ports on every interface) are stopped and disabled here.
set -euo pipefail
packages=(janus janus-tools coturn ffmpeg)
missing=()
command -v janus >/dev/null || missing+=(janus)
command -v janus-pp-rec >/dev/null || missing+=(janus-tools)
command -v turnserver >/dev/null || missing+=(coturn)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  else
    echo "Audio/video needs: sudo apt-get install --no-install-recommends ${packages[*]}" >&2
    echo "(without them the hearing rooms work and say that audio/video is unavailable)" >&2
    exit 0
  fi
fi
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  for unit in janus coturn; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
      if [ "$(id -u)" = 0 ]; then
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
      else
        echo "The Debian service $unit runs with its stock config: sudo systemctl disable --now $unit" >&2
      fi
    fi
  done
fi
