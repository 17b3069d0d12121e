"""Small files made on the spot: images of every mode, short videos made with PyAV."""

from __future__ import annotations

import io
import struct
import zlib

import av
import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def uploaded(data: bytes, name: str = "file.bin", content_type: str = "") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type or "application/octet-stream")


def image_bytes(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def png(width: int = 96, height: int = 80, mode: str = "RGB", color=(200, 30, 30)) -> bytes:
    return image_bytes(Image.new(mode, (width, height), color))


def png_claiming_size(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with a tiny (incomplete) body: a bomb's shape."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


def video(fmt: str = "mp4", codec: str = "libx264", seconds: float = 1.0, fps: int = 12,
          width: int = 128, height: int = 96, rotation: int = 0) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(round(seconds * fps)):
            pixels = np.full((height, width, 3), (i * 20) % 255, np.uint8)
            pixels[: height // 2, : width // 2] = (250, 10, 10)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()
