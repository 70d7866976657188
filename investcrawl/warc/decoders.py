"""Decoders warcio lacks, registered in its registry of content decoders: `br` on
Google's brotli (warcio 1.8 was written for brotlipy) and `zstd` (which Scrapy asks for)."""

from __future__ import annotations

import sys

from warcio.bufferedreaders import BufferedReader

if sys.version_info >= (3, 14):  # as Scrapy decodes zstd
    from compression import zstd as _zstd
else:
    from backports import zstd as _zstd


class _Brotli:
    """warcio's decompressor for `Content-Encoding: br`, on Google's brotli (the one Scrapy
    uses): warcio 1.8 was written for brotlipy, whose API differs, and failed on every br
    page (a repair then cut the file before it, and reextract stopped)."""

    unused_data = None

    def __init__(self) -> None:
        import brotli

        self._decompressor = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        return self._decompressor.process(data)

    def flush(self) -> bytes:
        return b""


class _Zstd:
    """warcio's decompressor for `Content-Encoding: zstd`, which Scrapy asks for (with the
    zstd module it decodes with) and warcio 1.8 does not know: one page, of one or more
    frames."""

    unused_data = None

    def __init__(self) -> None:
        self._decompressor = _zstd.ZstdDecompressor()

    def decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            if self._decompressor.eof:
                self._decompressor = _zstd.ZstdDecompressor()
            out.append(self._decompressor.decompress(data))
            data = self._decompressor.unused_data if self._decompressor.eof else b""
        return b"".join(out)

    def flush(self) -> bytes:
        return b""


BufferedReader.DECOMPRESSORS["br"] = _Brotli  # warcio's registry of content decoders
BufferedReader.DECOMPRESSORS["zstd"] = _Zstd
