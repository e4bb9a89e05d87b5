"""One file from a recording's Janus ``.mjr`` files: each converted by ``janus-pp-rec``
(Opus audio to ``.opus``, VP8/VP9 video to ``.webm``), then muxed by ``ffmpeg -c copy``
(no re-encoding) into one WebM (Matroska when a stream is H.264), every stream placed at
its own start time: a person who began publishing two seconds in starts two seconds in.

Everything here is a subprocess (``asyncio.create_subprocess_exec``): nothing blocks the
event loop, and the CPU work is the tools'.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# janus-pp-rec's target by the codec in a .mjr header.
TARGETS = {"opus": "opus", "vp8": "webm", "vp9": "webm", "av1": "webm", "h264": "mp4"}
TOOL_SECONDS = 300.0  # one tool run; a hearing's public part converts in seconds


class RecordingFailed(Exception):
    """No file could be made from the recording (no media, or a tool failed)."""


@dataclass(frozen=True)
class MuxedRecording:
    path: Path
    mime_type: str
    duration: float  # seconds, as ffprobe reads the muxed file
    streams: int


async def _run(*argv: str) -> tuple[int, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(TOOL_SECONDS):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RecordingFailed(f"{argv[0]} took too long") from None
    return process.returncode or 0, out, err


async def mjr_header(path: Path) -> dict[str, object]:
    """The .mjr's JSON header: ``t`` (a/v/d), ``c`` (codec), ``s`` (created, µs),
    ``u`` (first packet written, µs)."""
    code, out, err = await _run("janus-pp-rec", "-j", str(path))
    if code != 0:
        raise RecordingFailed(f"janus-pp-rec -j {path.name}: {err.decode(errors='replace')}")
    text = out.decode(errors="replace").strip()
    start = text.find("{")
    header: dict[str, object] = json.loads(text[start:]) if start >= 0 else {}
    return header


async def duration_of(path: Path) -> float:
    code, out, err = await _run(
        "ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)
    )
    if code != 0:
        raise RecordingFailed(f"ffprobe {path.name}: {err.decode(errors='replace')}")
    try:
        return float(out.decode().strip())
    except ValueError:
        raise RecordingFailed(f"ffprobe gave no duration for {path.name}") from None


async def mux(work: Path) -> MuxedRecording:
    """Convert every ``*.mjr`` under ``work`` and mux them into ``work/recording.*``.
    A track without any packet (a camera that never sent) is left out."""
    converted: list[tuple[Path, float, str]] = []  # (file, start µs, codec)
    for mjr in await asyncio.to_thread(lambda: sorted(work.glob("*.mjr"))):
        try:
            header = await mjr_header(mjr)
        except (RecordingFailed, ValueError) as error:
            log.warning("recording %s: %s", mjr, error)
            continue
        codec = str(header.get("c", "")).lower()
        kept = TARGETS.get(codec)
        if kept is None:
            continue  # data channels, codecs we do not keep
        out = mjr.with_suffix(f".{kept}")
        code, _out, err = await _run("janus-pp-rec", str(mjr), str(out))
        if code != 0 or await asyncio.to_thread(_empty, out):
            log.info("recording %s: nothing converted (%s)", mjr.name, err[-300:])
            continue
        start = header.get("u") or header.get("s") or 0
        converted.append((out, float(start) if isinstance(start, int | float) else 0.0, codec))
    if not converted:
        raise RecordingFailed("the recording holds no audio or video")
    first = min(start for _path, start, _codec in converted)
    matroska = any(codec == "h264" for _path, _start, codec in converted)
    target = work / ("recording.mkv" if matroska else "recording.webm")
    argv = ["ffmpeg", "-nostdin", "-y", "-loglevel", "error"]
    for path, start, _codec in converted:
        argv += ["-itsoffset", f"{(start - first) / 1_000_000:.3f}", "-i", str(path)]
    for index in range(len(converted)):
        argv += ["-map", str(index)]
    argv += ["-c", "copy", str(target)]
    code, _out, err = await _run(*argv)
    if code != 0 or await asyncio.to_thread(_empty, target):
        raise RecordingFailed(f"ffmpeg: {err.decode(errors='replace')[-500:]}")
    return MuxedRecording(
        target,
        "video/x-matroska" if matroska else "video/webm",
        await duration_of(target),
        len(converted),
    )


def _empty(path: Path) -> bool:
    return not path.exists() or path.stat().st_size == 0


def take_files(room_dir: Path, work: Path) -> int:
    """Move the room's closed ``.mjr`` files into ``work`` (one recording's own folder,
    so the next recording of the room starts with none). Returns how many."""
    work.mkdir(parents=True, exist_ok=True)
    moved = 0
    for mjr in sorted(room_dir.glob("*.mjr")):
        shutil.move(str(mjr), work / mjr.name)
        moved += 1
    return moved
