"""Independent reference for the RWKV World tokenizer: the vocabulary's
Python literals read with ast.literal_eval, and greedy longest-match
encoding by dictionary lookup (no trie).

    world_tokenizer.py VOCAB (-p TEXT | --file FILE [--bytes N])
prints the ids comma-separated.
"""

import argparse
import ast


def load(path):
    table = {}
    longest = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            idx = int(line[: line.index(" ")])
            literal = line[line.index(" "): line.rindex(" ")].strip()
            token = ast.literal_eval(literal)
            if isinstance(token, str):
                token = token.encode("utf-8")
            assert len(token) == int(line[line.rindex(" "):])
            table[token] = idx
            longest = max(longest, len(token))
    return table, longest


def encode(table, longest, data):
    ids, pos = [], 0
    while pos < len(data):
        for n in range(min(longest, len(data) - pos), 0, -1):
            idx = table.get(data[pos: pos + n])
            if idx is not None:
                ids.append(idx)
                pos += n
                break
        else:
            raise ValueError(f"byte {data[pos]} at {pos} is not in the vocabulary")
    return ids


def main():
    p = argparse.ArgumentParser()
    p.add_argument("vocab")
    p.add_argument("-p", dest="text")
    p.add_argument("--file")
    p.add_argument("--bytes", type=int, default=0)
    a = p.parse_args()
    data = a.text.encode("utf-8") if a.text is not None else open(a.file, "rb").read()
    if a.bytes:
        data = data[: a.bytes]
    table, longest = load(a.vocab)
    print(",".join(str(i) for i in encode(table, longest, data)))


if __name__ == "__main__":
    main()
