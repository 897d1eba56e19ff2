"""Five model architectures written once against a PyTorch-style library ``lib``
(``nn_core`` or ``torch``), so the same code builds the nn_core model and its torch twin:
a ResNet-18, a GPT-2-style causal decoder with a key/value cache, a 2-layer LSTM language
model over padded sequences, a small U-Net and a tiny ViT. Used by
tests/test_architectures.py (outputs, gradients, training, tracing) and
benchmarks/bench_models.py (timings beside torch).

Parameter names follow the usual PyTorch implementations (torchvision's ResNet, GPT-2's
``wte``/``wpe``/``h.N.attn.c_attn``...), so ``state_dict`` keys agree between the twins
and weights are copied across by name. Shapes are small but the structure is the real one.
"""
from __future__ import annotations

import types


def build(lib):
    """The five model classes for ``lib``, as a namespace."""
    nn, F = lib.nn, lib.nn.functional

    # ---- ResNet-18 (torchvision's layout: conv1/bn1/layerN.M/downsample/fc) ----------
    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                                nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet18(nn.Module):
        def __init__(self, num_classes=10, width=16):
            super().__init__()
            self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU()
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            chans = [width, width * 2, width * 4, width * 8]
            cin = width
            for i, c in enumerate(chans):
                stride = 1 if i == 0 else 2
                setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, c, stride), BasicBlock(c, c, 1)))
                cin = c
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(chans[-1], num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(lib.flatten(self.avgpool(x), 1))

    # ---- GPT-2-style causal decoder with a key/value cache --------------------------
    class CausalSelfAttention(nn.Module):
        def __init__(self, n_embd, n_head):
            super().__init__()
            self.n_head = n_head
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)

        def forward(self, x, past=None):
            B, T, C = x.shape
            H = self.n_head
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (t.reshape(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
            if past is not None:
                k = lib.cat([past[0], k], dim=2)
                v = lib.cat([past[1], v], dim=2)
            if past is None or T > 1:
                # prefill (or several new tokens): causal over the keys, aligned at the end
                S = k.shape[2]
                if S == T:
                    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                else:
                    rows = lib.arange(S - T, S).reshape(T, 1)
                    mask = lib.arange(S).reshape(1, S) <= rows
                    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            else:  # one new token attends to every cached key
                y = F.scaled_dot_product_attention(q, k, v)
            y = y.transpose(1, 2).reshape(B, T, C)
            return self.c_proj(y), (k, v)

    class MLP(nn.Module):
        def __init__(self, n_embd):
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.c_proj = nn.Linear(4 * n_embd, n_embd)

        def forward(self, x):
            return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))

    class Block(nn.Module):
        def __init__(self, n_embd, n_head):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = CausalSelfAttention(n_embd, n_head)
            self.ln_2 = nn.LayerNorm(n_embd)
            self.mlp = MLP(n_embd)

        def forward(self, x, past=None):
            a, present = self.attn(self.ln_1(x), past)
            x = x + a
            return x + self.mlp(self.ln_2(x)), present

    class GPT2(nn.Module):
        """wte/wpe embeddings, n_layer pre-norm blocks, ln_f, lm_head tied to wte."""

        def __init__(self, vocab_size=97, block_size=32, n_layer=2, n_head=4, n_embd=32):
            super().__init__()
            self.block_size = block_size
            self.wte = nn.Embedding(vocab_size, n_embd)
            self.wpe = nn.Embedding(block_size, n_embd)
            self.h = nn.ModuleList([Block(n_embd, n_head) for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
            self.lm_head.weight = self.wte.weight  # tied
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    with lib.no_grad():
                        p.normal_(0.0, 0.02)

        def forward(self, idx, past=None):
            B, T = idx.shape
            start = 0 if past is None else past[0][0].shape[2]
            pos = lib.arange(start, start + T)
            x = self.wte(idx) + self.wpe(pos)
            presents = []
            for i, block in enumerate(self.h):
                x, present = block(x, None if past is None else past[i])
                presents.append(present)
            return self.lm_head(self.ln_f(x)), presents

        def generate(self, idx, new_tokens, use_cache=True):
            """Greedy decoding; with ``use_cache`` each step feeds only the newest token."""
            with lib.no_grad():
                past = None
                cur = idx
                for _ in range(new_tokens):
                    if use_cache:
                        logits, past = self(cur if past is None else cur[:, -1:], past)
                    else:
                        logits, _ = self(cur)
                    nxt = logits[:, -1, :].argmax(dim=-1, keepdim=True)
                    cur = lib.cat([cur, nxt], dim=1)
            return cur

    # ---- 2-layer LSTM language model over padded sequences --------------------------
    class LSTMLM(nn.Module):
        def __init__(self, vocab_size=50, emb=32, hidden=48, num_layers=2, dropout=0.0):
            super().__init__()
            self.encoder = nn.Embedding(vocab_size, emb, padding_idx=0)
            self.rnn = nn.LSTM(emb, hidden, num_layers, batch_first=True, dropout=dropout)
            self.decoder = nn.Linear(hidden, vocab_size)

        def forward(self, tokens, lengths=None):
            """tokens (B, T) padded with 0 after each row's length; logits (B, T, V), zero
            hidden state past each length (as pad_packed_sequence gives). Without
            ``lengths`` every row is full length and nothing is packed."""
            emb = self.encoder(tokens)
            if lengths is None:
                return self.decoder(self.rnn(emb)[0])
            packed = nn.utils.rnn.pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=tokens.shape[1])
            return self.decoder(out)

    # ---- a small U-Net: two levels down, up by transposed conv and by interpolation --
    def conv_block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self, cin=3, classes=4, w=8):
            super().__init__()
            self.enc1, self.enc2, self.mid = conv_block(cin, w), conv_block(w, 2 * w), conv_block(2 * w, 4 * w)
            self.pool = nn.MaxPool2d(2)
            self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
            self.dec2 = conv_block(4 * w, 2 * w)
            self.reduce1 = nn.Conv2d(2 * w, w, 1)
            self.dec1 = conv_block(2 * w, w)
            self.head = nn.Conv2d(w, classes, 1)

        def forward(self, x):
            e1 = self.enc1(x)
            e2 = self.enc2(self.pool(e1))
            m = self.mid(self.pool(e2))
            d2 = self.dec2(lib.cat([self.up2(m), e2], dim=1))
            up1 = F.interpolate(self.reduce1(d2), size=e1.shape[-2:], mode="bilinear", align_corners=False)
            d1 = self.dec1(lib.cat([up1, e1], dim=1))
            return self.head(d1)

    # ---- a tiny ViT ---------------------------------------------------------------
    class ViT(nn.Module):
        def __init__(self, image=16, patch=4, cin=3, dim=32, depth=2, heads=4, classes=10):
            super().__init__()
            n = (image // patch) ** 2
            self.patch_embed = nn.Conv2d(cin, dim, patch, stride=patch)
            self.cls_token = nn.Parameter(lib.zeros(1, 1, dim))
            self.pos_embed = nn.Parameter(lib.randn(1, n + 1, dim) * 0.02)
            layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, classes)

        def forward(self, x):
            x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, N, dim)
            cls = self.cls_token.expand(x.shape[0], -1, -1)
            x = lib.cat([cls, x], dim=1) + self.pos_embed
            x = self.norm(self.encoder(x))
            return self.head(x[:, 0])

    return types.SimpleNamespace(ResNet18=ResNet18, GPT2=GPT2, LSTMLM=LSTMLM, UNet=UNet, ViT=ViT)


def copy_weights(src, dst, lib_dst) -> None:
    """Copies ``src``'s state_dict into ``dst`` by name (through numpy)."""
    dst.load_state_dict({k: lib_dst.tensor(v.detach().numpy().copy()) for k, v in src.state_dict().items()})
