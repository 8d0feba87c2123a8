"""Join MP4 files of one video track with the same codec settings into one MP4, without re-encoding.

A recording is written as short MP4 segments, each finalized (playable) as soon as it is complete (``recording``);
this module puts them back together as one file: the samples (encoded frames) of every segment are copied, in
order, into one ``mdat``, and one ``moov`` describes them all (sample sizes, one chunk per sample at its 64-bit
offset, sync samples, sample durations). Only what OpenCV's FFmpeg writer produces is needed and accepted: one
video track, the same sample description (codec, size, codec headers) and time scale in every segment.
Standard library only; the ISO base media file format (ISO/IEC 14496-12) boxes are read and written directly.
"""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

#: boxes that only hold other boxes (the ones walked to reach the sample table)
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"edts"}


class JoinError(ValueError):
    """A segment that cannot be joined (not a finalized MP4, or made with other settings)."""


@dataclass
class Box:
    kind: bytes
    payload: bytes = b""  # for a leaf box
    children: list[Box] | None = None  # for a container box

    def find(self, kind: bytes) -> Box:
        for child in self.children or []:
            if child.kind == kind:
                return child
        raise JoinError(f"no {kind.decode()} box in {self.kind.decode()}")

    def serialize(self) -> bytes:
        body = b"".join(c.serialize() for c in self.children) if self.children is not None else self.payload
        return struct.pack(">I4s", 8 + len(body), self.kind) + body


def parse_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[Box]:
    """The boxes in ``data[start:end]``; containers (``CONTAINERS``) are parsed into their children."""
    end = len(data) if end is None else end
    boxes, offset = [], start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, offset + 8)[0], 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise JoinError(f"a {kind!r} box runs past the end of its container (a file cut short?)")
        if kind in CONTAINERS:
            boxes.append(Box(kind, children=parse_boxes(data, offset + header, offset + size)))
        else:
            boxes.append(Box(kind, payload=data[offset + header:offset + size]))
        offset += size
    return boxes


def _full(payload: bytes) -> tuple[int, bytes]:
    """(version, body) of a full box's payload (version, 3 bytes of flags, body)."""
    return payload[0], payload[4:]


@dataclass
class Segment:
    """What joining needs from one MP4: its sample table, as absolute file offsets."""

    path: Path
    ftyp: Box
    moov: Box
    sample_description: bytes
    timescale: int
    offsets: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    durations: list[int] = field(default_factory=list)
    sync: list[int] = field(default_factory=list)  # 0-based indices of the key frames

    @property
    def duration(self) -> int:
        return sum(self.durations)


def read_segment(path: str | Path) -> Segment:
    """The sample table of a finalized single-video-track MP4; JoinError if it is not one."""
    try:
        return _read_segment(Path(path))
    except (struct.error, IndexError) as e:  # a table shorter than its own counts say
        raise JoinError(f"{path}: a damaged sample table ({e})") from None


def _read_segment(path: Path) -> Segment:
    with open(path, "rb") as f:
        head = f.read()
    top = parse_boxes(head)
    moovs = [b for b in top if b.kind == b"moov"]
    if not moovs:
        raise JoinError(f"{path}: no moov box (not finalized: the recording was cut off while writing it)")
    moov = moovs[0]
    tracks = [b for b in moov.children if b.kind == b"trak"]
    if len(tracks) != 1:
        raise JoinError(f"{path}: expected one video track, found {len(tracks)}")
    mdia = tracks[0].find(b"mdia")
    version, body = _full(mdia.find(b"mdhd").payload)
    timescale = struct.unpack_from(">I", body, 16 if version == 1 else 8)[0]
    stbl = mdia.find(b"minf").find(b"stbl")
    ftyp = next((b for b in top if b.kind == b"ftyp"), Box(b"ftyp", payload=b"isom\0\0\x02\0isomiso2mp41"))
    segment = Segment(path, ftyp, moov, stbl.find(b"stsd").payload, timescale)
    segment.sizes = _sizes(stbl.find(b"stsz").payload)
    segment.durations = _expand_runs(_full(stbl.find(b"stts").payload)[1])
    if len(segment.durations) != len(segment.sizes):
        raise JoinError(f"{path}: {len(segment.sizes)} samples but {len(segment.durations)} durations")
    segment.offsets = _sample_offsets(stbl, segment.sizes)
    try:
        entries = _full(stbl.find(b"stss").payload)[1]
        segment.sync = [n - 1 for n in struct.unpack_from(f">{struct.unpack_from('>I', entries)[0]}I", entries, 4)]
    except JoinError:  # no stss: every sample is a key frame
        segment.sync = list(range(len(segment.sizes)))
    size = os.path.getsize(path)
    if any(o + s > size for o, s in zip(segment.offsets, segment.sizes)):
        raise JoinError(f"{path}: a sample lies past the end of the file (cut short)")
    return segment


def codec_settings(sample_description: bytes) -> bytes:
    """The sample description without what describes one segment's content rather than how it is coded: the
    bit rates of the MPEG-4 decoder config descriptor and of the ``btrt`` box (FFmpeg's, with 4-byte lengths)."""
    out = bytearray(sample_description)
    at = out.find(b"\x04\x80\x80\x80")  # DecoderConfigDescriptor: tag, length, type, stream, buffer(3), max, avg
    if at >= 0 and at + 18 <= len(out):
        out[at + 10:at + 18] = bytes(8)
    at = out.find(b"btrt")
    if at >= 0 and at + 16 <= len(out):
        out[at + 4:at + 16] = bytes(12)
    return bytes(out)


def _sizes(payload: bytes) -> list[int]:
    body = _full(payload)[1]
    fixed, count = struct.unpack_from(">II", body)
    return [fixed] * count if fixed else list(struct.unpack_from(f">{count}I", body, 8))


def _expand_runs(body: bytes) -> list[int]:
    """stts: (count, delta) runs -> one duration per sample."""
    (n,) = struct.unpack_from(">I", body)
    out = []
    for i in range(n):
        count, delta = struct.unpack_from(">II", body, 4 + 8 * i)
        out += [delta] * count
    return out


def _sample_offsets(stbl: Box, sizes: list[int]) -> list[int]:
    """The absolute offset of every sample, from the chunk offsets (stco/co64) and samples per chunk (stsc)."""
    try:
        body, fmt = _full(stbl.find(b"stco").payload)[1], "I"
    except JoinError:
        body, fmt = _full(stbl.find(b"co64").payload)[1], "Q"
    (chunks,) = struct.unpack_from(">I", body)
    chunk_offsets = struct.unpack_from(f">{chunks}{fmt}", body, 4)
    stsc = _full(stbl.find(b"stsc").payload)[1]
    (runs,) = struct.unpack_from(">I", stsc)
    firsts = [struct.unpack_from(">III", stsc, 4 + 12 * i) for i in range(runs)]
    offsets, sample = [], 0
    for r, (first_chunk, per_chunk, _desc) in enumerate(firsts):
        last_chunk = firsts[r + 1][0] - 1 if r + 1 < runs else chunks
        for chunk in range(first_chunk - 1, last_chunk):
            offset = chunk_offsets[chunk]
            for _ in range(per_chunk):
                if sample >= len(sizes):
                    raise JoinError("the chunk table names more samples than the size table")
                offsets.append(offset)
                offset += sizes[sample]
                sample += 1
    if sample != len(sizes):
        raise JoinError(f"the chunk table names {sample} samples, the size table {len(sizes)}")
    return offsets


def _with_duration(payload: bytes, duration: int, at_v0: int, at_v1: int) -> bytes:
    """A full box (mvhd, tkhd, mdhd) with its duration field, at byte ``at_v0`` of a version-0 payload (``at_v1``
    of a version-1 one, whose times are 64-bit), replaced."""
    version = payload[0]
    if version == 0 and duration >= 2 ** 32:
        raise JoinError("the joined video is too long for a version-0 header")
    at, fmt = (at_v1, ">Q") if version == 1 else (at_v0, ">I")
    return payload[:at] + struct.pack(fmt, duration) + payload[at + struct.calcsize(fmt):]


def _full_box(kind: bytes, body: bytes) -> Box:
    return Box(kind, payload=b"\0\0\0\0" + body)


def _runs(durations: list[int]) -> bytes:
    runs: list[list[int]] = []
    for d in durations:
        if runs and runs[-1][1] == d:
            runs[-1][0] += 1
        else:
            runs.append([1, d])
    return struct.pack(">I", len(runs)) + b"".join(struct.pack(">II", c, d) for c, d in runs)


def join(paths: list[str | Path], out: str | Path) -> int:
    """Write the segments at ``paths`` (in order) as one MP4 at ``out``; returns the number of frames.
    Raises JoinError when a segment is not a finalized MP4 or was made with other settings than the first."""
    segments = [read_segment(p) for p in paths]
    if not segments:
        raise JoinError("no segments to join")
    first = segments[0]
    for s in segments[1:]:
        if codec_settings(s.sample_description) != codec_settings(first.sample_description) \
                or s.timescale != first.timescale:
            raise JoinError(f"{s.path}: recorded with other settings than {first.path} (size or codec)")
    sizes = [n for s in segments for n in s.sizes]
    durations = [d for s in segments for d in s.durations]
    sync, base = [], 0
    for s in segments:
        sync += [base + i for i in s.sync]
        base += len(s.sizes)
    ftyp = first.ftyp.serialize()
    mdat_start = len(ftyp)
    data_start = mdat_start + 16  # a 64-bit mdat header: the size is known only at the end
    offsets, at = [], data_start
    for n in sizes:
        offsets.append(at)
        at += n
    moov = _joined_moov(first.moov, sizes, durations, sync, offsets, first.timescale)
    with open(out, "wb") as f:
        f.write(ftyp + struct.pack(">I4sQ", 1, b"mdat", 16 + at - data_start))
        for s in segments:
            with open(s.path, "rb") as src:
                for offset, size in zip(s.offsets, s.sizes):
                    src.seek(offset)
                    chunk = src.read(size)
                    if len(chunk) != size:
                        raise JoinError(f"{s.path}: a sample lies past the end of the file (cut short)")
                    f.write(chunk)
        f.write(moov.serialize())
    return len(sizes)


def _joined_moov(template: Box, sizes, durations, sync, offsets, timescale: int) -> Box:
    """The first segment's moov with the joined sample table and durations (its edit list dropped: the joined
    video plays from its first frame, as each segment did)."""
    media_duration = sum(durations)
    mvhd = template.find(b"mvhd")
    movie_scale = struct.unpack_from(">I", _full(mvhd.payload)[1], 16 if mvhd.payload[0] == 1 else 8)[0]
    movie_duration = media_duration * movie_scale // timescale
    trak = template.find(b"trak")
    mdia = trak.find(b"mdia")
    minf = mdia.find(b"minf")
    stbl = minf.find(b"stbl")
    table = Box(b"stbl", children=[
        stbl.find(b"stsd"),
        _full_box(b"stts", _runs(durations)),
        _full_box(b"stss", struct.pack(f">I{len(sync)}I", len(sync), *[i + 1 for i in sync])),
        _full_box(b"stsc", struct.pack(">IIII", 1, 1, 1, 1)),  # one sample per chunk
        _full_box(b"stsz", struct.pack(f">II{len(sizes)}I", 0, len(sizes), *sizes)),
        _full_box(b"co64", struct.pack(f">I{len(offsets)}Q", len(offsets), *offsets)),
    ])
    new_minf = Box(b"minf", children=[table if c.kind == b"stbl" else c for c in minf.children])
    new_mdia = Box(b"mdia", children=[
        Box(b"mdhd", payload=_with_duration(c.payload, media_duration, 16, 24)) if c.kind == b"mdhd"
        else new_minf if c.kind == b"minf" else c for c in mdia.children])
    new_trak = Box(b"trak", children=[
        Box(b"tkhd", payload=_with_duration(c.payload, movie_duration, 20, 28)) if c.kind == b"tkhd"
        else new_mdia if c.kind == b"mdia" else c for c in trak.children if c.kind != b"edts"])
    return Box(b"moov", children=[
        Box(b"mvhd", payload=_with_duration(c.payload, movie_duration, 16, 24)) if c.kind == b"mvhd"
        else new_trak if c.kind == b"trak" else c for c in template.children])


def copy_or_join(paths: list[Path], out: Path) -> None:
    """One segment is copied as it is; several are joined (``join``)."""
    if len(paths) == 1:
        shutil.copyfile(paths[0], out)
    else:
        join(paths, out)
