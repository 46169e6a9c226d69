"""Trains the bag-of-subwords code encoder of docs/search.md ("A code-search bi-encoder trained here") on the
pairs of mine_pairs.py, with PyTorch (Debian: python3-torch). A text is a weighted mean of subword vectors,
with one learned weight per subword for queries and one for code; the loss is in-batch contrastive (InfoNCE,
both directions). Writes PREFIX.json (vocabulary, dimension) and PREFIX.{emb,wq,wd}.f32 for bag_embedder.ts,
and prints the MRR of the right code among 1,000 held-out pairs after each epoch.

Usage: /usr/bin/python3 train.py PAIRS.jsonl PREFIX [--dim 128] [--epochs 8]
"""
import argparse, json, random, re, sys, time
from collections import Counter

import torch
import torch.nn as nn
import torch.nn.functional as F

WORD = re.compile(r"[A-Za-z0-9]+")
PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
JUNK = re.compile(r"copyright|licen[cs]e|@param|eslint|generated", re.I)
BATCH = 512
TEMPERATURE = 0.05


def tokens(text, cap):
    """Lower-cased subwords of identifiers and words, 2+ characters, no numbers (as bag_embedder.ts)."""
    out = []
    for word in WORD.findall(text):
        for part in PART.findall(word):
            part = part.lower()
            if len(part) < 2 or part.isdigit():
                continue
            out.append(part)
            if len(out) >= cap:
                return out
    return out


class BagEncoder(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, dim, padding_idx=0)
        nn.init.normal_(self.emb.weight, std=0.1)
        self.wq = nn.Embedding(vocab_size, 1, padding_idx=0)
        self.wd = nn.Embedding(vocab_size, 1, padding_idx=0)
        nn.init.zeros_(self.wq.weight)
        nn.init.zeros_(self.wd.weight)

    def encode(self, batch, query):
        width = max(len(x) for x in batch)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        for i, x in enumerate(batch):
            ids[i, :len(x)] = torch.tensor(x)
        mask = (ids > 0).float()
        w = F.softplus((self.wq if query else self.wd)(ids).squeeze(-1)) * mask
        v = (self.emb(ids) * w.unsqueeze(-1)).sum(1) / (w.sum(1, keepdim=True) + 1e-6)
        return F.normalize(v, dim=-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pairs")
    ap.add_argument("prefix")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=8)
    a = ap.parse_args()
    torch.set_num_threads(2)
    random.seed(0)
    torch.manual_seed(0)

    pairs = []
    for line in open(a.pairs):
        r = json.loads(line)
        if JUNK.search(r["nl"]):
            continue
        q, d = tokens(r["nl"], 48), tokens(r["code"], 256)
        if len(q) >= 3 and len(d) >= 5:
            pairs.append((q, d))
    random.shuffle(pairs)
    counts = Counter()
    for q, d in pairs:
        counts.update(set(q))
        counts.update(set(d))
    vocab = [w for w, c in counts.most_common(40000) if c >= 4]
    index = {w: i + 1 for i, w in enumerate(vocab)}  # 0 pads
    data = [([index[t] for t in q if t in index], [index[t] for t in d if t in index]) for q, d in pairs]
    data = [(q, d) for q, d in data if q and d]
    held_out, train = data[:2000], data[2000:]
    print(f"{len(pairs)} pairs, vocabulary {len(vocab)}", file=sys.stderr)

    model = BagEncoder(len(vocab) + 1, a.dim)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)

    def held_out_mrr():
        model.eval()
        with torch.no_grad():
            q = model.encode([x[0] for x in held_out[:1000]], True)
            d = model.encode([x[1] for x in held_out[:1000]], False)
            s = q @ d.T
            ranks = (s > s.diag().unsqueeze(1)).sum(1) + 1
            mrr = (1.0 / ranks.float()).mean().item()
        model.train()
        return mrr

    print(f"held-out MRR among 1,000 before training {held_out_mrr():.4f}", file=sys.stderr)
    labels = torch.arange(BATCH)
    for epoch in range(a.epochs):
        random.shuffle(train)
        t0, total, steps = time.time(), 0.0, 0
        for s in range(0, len(train) - BATCH + 1, BATCH):
            b = train[s:s + BATCH]
            logits = model.encode([x[0] for x in b], True) @ model.encode([x[1] for x in b], False).T / TEMPERATURE
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, steps = total + loss.item(), steps + 1
        print(f"epoch {epoch} loss {total / steps:.3f} held-out MRR {held_out_mrr():.4f} {time.time() - t0:.0f} s",
              file=sys.stderr)

    json.dump({"vocab": vocab, "dim": a.dim}, open(a.prefix + ".json", "w"))
    with torch.no_grad():
        open(a.prefix + ".emb.f32", "wb").write(model.emb.weight.numpy().astype("float32").tobytes())
        for name, w in (("wq", model.wq), ("wd", model.wd)):
            weights = F.softplus(w.weight).squeeze(-1).numpy().astype("float32")
            open(f"{a.prefix}.{name}.f32", "wb").write(weights.tobytes())
    print(f"wrote {a.prefix}.*", file=sys.stderr)


if __name__ == "__main__":
    main()
