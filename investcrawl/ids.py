"""A set of article ids held as bits (a leaf module: the spiders and Datasette's plugin
keep sets of ids that grow with the site)."""

from __future__ import annotations


class Ids:
    """A set of article ids held as bits: what a run keeps of every article it meets grows
    with the site (300,000 ids: 37 KB, where a set of ints held ~60 bytes each). Ids past
    BITS (a hostile link's) go in a plain set."""

    BITS = 1 << 24  # 2 MB of bits at most (the live site's ids are near 200,000)

    def __init__(self) -> None:
        self._bits = bytearray()
        self._other: set[int] = set()

    def add(self, article_id: int) -> None:
        if not 0 <= article_id < self.BITS:
            self._other.add(article_id)
            return
        byte = article_id >> 3
        if byte >= len(self._bits):  # grown by doubling, never past BITS
            size = min(max(byte + 1, 2 * len(self._bits)), self.BITS >> 3)
            self._bits.extend(bytes(size - len(self._bits)))
        self._bits[byte] |= 1 << (article_id & 7)

    def __contains__(self, article_id: object) -> bool:
        if not isinstance(article_id, int) or not 0 <= article_id < self.BITS:
            return article_id in self._other
        byte = article_id >> 3
        return byte < len(self._bits) and bool(self._bits[byte] >> (article_id & 7) & 1)
