"""A BERT-shaped ONNX model with all-MiniLM-L6-v2's layer sizes (6 layers, hidden 384, 12 heads, FFN 1536) and
random weights, for measuring how onnxruntime's threads behave on a model of real size where no real model can
be downloaded (bench/onnx_threads_bench.ts). Its vectors mean nothing. It borrows the tiny test model's
tokenizer, so only its vocabulary is small.

    apt-get install python3-torch python3-onnx      # Debian's PyTorch (1.13) exports the model
    /usr/bin/python3 bench/make_bert_shaped_model.py OUT_DIR tests/fixtures/tiny-bert
    deno run -A bench/onnx_threads_bench.ts --model-path OUT_DIR --calls 20 --gap-ms 50
"""
import json, os, shutil, sys
import torch
from torch import nn

out = sys.argv[1]
tiny = sys.argv[2]
vocab = json.load(open(os.path.join(tiny, "config.json")))["vocab_size"]
H, L, A, F, P = 384, 6, 12, 1536, 512

class Layer(nn.Module):
    """A post-norm transformer layer written out: torch 1.13 cannot export nn.TransformerEncoderLayer's fused
    inference path to ONNX."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(H, 3 * H)
        self.out = nn.Linear(H, H)
        self.n1 = nn.LayerNorm(H)
        self.f1 = nn.Linear(H, F)
        self.f2 = nn.Linear(F, H)
        self.n2 = nn.LayerNorm(H)

    def forward(self, x, bias):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, A, H // A).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / (H // A) ** 0.5 + bias, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, H)
        x = self.n1(x + self.out(y))
        return self.n2(x + self.f2(torch.nn.functional.gelu(self.f1(x))))

class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.word = nn.Embedding(vocab, H)
        self.pos = nn.Embedding(P, H)
        self.typ = nn.Embedding(2, H)
        self.norm = nn.LayerNorm(H)
        self.layers = nn.ModuleList([Layer() for _ in range(L)])

    def forward(self, input_ids, attention_mask, token_type_ids):
        pos = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = self.norm(self.word(input_ids) + self.pos(pos) + self.typ(token_type_ids))
        bias = ((1.0 - attention_mask.to(torch.float32)) * -10000.0)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        return x

torch.manual_seed(0)
m = Bert().eval()
os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
ids = torch.ones(2, 8, dtype=torch.int64)
with torch.no_grad():
    torch.onnx.export(
        m, (ids, torch.ones_like(ids), torch.zeros_like(ids)), os.path.join(out, "onnx", "model.onnx"),
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "seq"} for n in ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
        opset_version=14,
    )
cfg = json.load(open(os.path.join(tiny, "config.json")))
cfg.update(hidden_size=H, num_hidden_layers=L, num_attention_heads=A, intermediate_size=F, max_position_embeddings=P)
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
for f in ["tokenizer.json", "tokenizer_config.json"]:
    shutil.copy(os.path.join(tiny, f), os.path.join(out, f))
print("wrote", out)
