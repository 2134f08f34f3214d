"""Independent reference for the GPT-NeoX 20B tokenizer (20B_tokenizer.json):
added tokens split first (leftmost, longest), NFC normalization, the GPT-2
byte-level pretokenizer regex (with the `regex` module), byte-to-unicode
mapping and BPE by merge rank, written from the GPT-2 encoder.

    neox_tokenizer.py TOKENIZER.json (-p TEXT | --file FILE [--bytes N])
prints the ids comma-separated.
"""

import argparse
import json
import unicodedata

import regex

PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class NeoX:
    def __init__(self, path):
        t = json.load(open(path, encoding="utf-8"))
        self.vocab = t["model"]["vocab"]
        self.ranks = {tuple(m.split(" ")): i for i, m in enumerate(t["model"]["merges"])}
        self.added = sorted((a["content"] for a in t["added_tokens"]), key=len, reverse=True)
        self.added_ids = {a["content"]: a["id"] for a in t["added_tokens"]}
        self.byte_map = bytes_to_unicode()

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b)), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            pairs = [p for p in pairs if p[0] is not None]
            if not pairs:
                break
            rank = min(pairs)[0]
            first, second = next((parts[i], parts[i + 1]) for r, i in pairs if r == rank)
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == first and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return [self.vocab[p] for p in parts]

    def encode_plain(self, text):
        ids = []
        for piece in PATTERN.findall(unicodedata.normalize("NFC", text)):
            ids += self.bpe("".join(self.byte_map[b] for b in piece.encode("utf-8")))
        return ids

    def encode(self, text):
        ids, start, i = [], 0, 0
        while i < len(text):
            match = next((a for a in self.added if text.startswith(a, i)), None)
            if match is None:
                i += 1
                continue
            ids += self.encode_plain(text[start:i])
            ids.append(self.added_ids[match])
            i += len(match)
            start = i
        return ids + self.encode_plain(text[start:])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("tokenizer")
    p.add_argument("-p", dest="text")
    p.add_argument("--file")
    p.add_argument("--bytes", type=int, default=0)
    a = p.parse_args()
    if a.text is not None:
        text = a.text
    else:
        data = open(a.file, "rb").read()
        text = (data[: a.bytes] if a.bytes else data).decode("utf-8")
    print(",".join(str(i) for i in NeoX(a.tokenizer).encode(text)))


if __name__ == "__main__":
    main()
