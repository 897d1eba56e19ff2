"""Programs written in the usual PyTorch style (after the pytorch/examples MNIST CNN, word
language model and DCGAN), run on nn_core with only their import lines changed
(``import torch`` -> ``import nn_core as torch``, ``from torch.x`` -> ``from nn_core.x``).
They use device objects, dtype aliases, ``torch.utils.data`` with worker processes,
Adadelta and StepLR, an LSTM language model over padded batches, ``nn.Transformer``'s
mask, BCELoss with Adam, and save/load through a BytesIO. Each program checks itself
(losses fall, a reloaded model gives the same output) and returns its losses."""
import re
import textwrap
import warnings

import numpy as np
import pytest


def port(source: str) -> str:
    """Rewrites the import lines of a PyTorch program to nn_core; nothing else changes."""
    def fix(line: str) -> str:
        m = re.match(r"^(\s*)import torch$", line)
        if m:
            return f"{m.group(1)}import nn_core as torch"
        line = re.sub(r"^(\s*)import torch\.", r"\1import nn_core.", line)
        return re.sub(r"^(\s*)from torch(\.|\s)", r"\1from nn_core\2", line)
    return "\n".join(fix(line) for line in textwrap.dedent(source).splitlines())


def run(source: str, **env):
    namespace = dict(env)
    exec(compile(port(source), "<ported program>", "exec"), namespace)
    return namespace["main"]()


MNIST_CNN = """
import io
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(16 * 6 * 6, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def main():
    torch.manual_seed(1)
    use_accel = torch.accelerator.is_available()
    device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
    images = torch.randn(96, 1, 16, 16, dtype=torch.float)
    labels = (images.mean(dim=(1, 2, 3)) > 0).long() + 2 * (images[:, 0, 0, 0] > 0).long()
    loader = DataLoader(TensorDataset(images, labels), batch_size=16, shuffle=True, num_workers=2,
                        pin_memory=True, persistent_workers=True)
    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    losses = []
    for epoch in range(1, 4):
        model.train()
        total = 0.0
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
            total += loss.item()
        scheduler.step()
        losses.append(total / len(loader))
    model.eval()
    with torch.no_grad():
        out = model(images[:8].to(device))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    again = Net()
    again.load_state_dict(torch.load(buffer, map_location=device, weights_only=True))
    again.eval()
    with torch.no_grad():
        assert torch.allclose(again(images[:8]), out)
    assert optimizer.param_groups[0]["lr"] == pytest_approx(0.7 ** 3)
    return losses
"""


WORD_LM = """
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence


class RNNModel(nn.Module):
    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.2, tie_weights=False):
        super(RNNModel, self).__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def main():
    torch.manual_seed(3)
    ntokens, bptt, batch = 40, 8, 6
    # a repeating sequence a model can learn, cut into `batch` columns (batchify)
    stream = torch.tensor([i % 7 + 3 * (i % 5) for i in range(batch * 50)], dtype=torch.long)
    data = stream.view(batch, -1).t().contiguous()
    results = {}
    for rnn_type in ("LSTM", "GRU"):
        model = RNNModel(rnn_type, ntokens, 16, 24, 2, dropout=0.1, tie_weights=False)
        criterion = nn.NLLLoss()
        lr = 2.0
        losses = []
        for epoch in range(4):
            model.train()
            hidden = model.init_hidden(batch)
            total = 0.0
            for i in range(0, data.size(0) - 1, bptt):
                seq_len = min(bptt, len(data) - 1 - i)
                inp, target = data[i:i + seq_len], data[i + 1:i + 1 + seq_len].reshape(-1)
                model.zero_grad()
                hidden = repackage_hidden(hidden)
                output, hidden = model(inp, hidden)
                loss = criterion(output, target)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
                for p in model.parameters():
                    p.data.add_(p.grad, alpha=-lr)
                total += loss.item()
            losses.append(total)
        assert losses[-1] < losses[0], losses
        results[rnn_type] = losses
    # padded batches of different lengths through a batch_first LSTM
    seqs = [torch.randint(1, ntokens, (n,)) for n in (5, 3, 7)]
    padded = pad_sequence(seqs, batch_first=True)
    lstm = nn.LSTM(4, 5, batch_first=True)
    emb = nn.Embedding(ntokens, 4, padding_idx=0)
    packed = nn.utils.rnn.pack_padded_sequence(emb(padded), torch.tensor([5, 3, 7]), batch_first=True,
                                               enforce_sorted=False)
    out, (h, c) = lstm(packed)
    out, lengths = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
    assert tuple(out.shape) == (3, 7, 5) and lengths.tolist() == [5, 3, 7]
    assert float(out[1, 3:].abs().sum()) == 0.0
    return results
"""


DCGAN = """
import torch
import torch.nn as nn
import torch.optim as optim


class Generator(nn.Module):
    def __init__(self, nz=8, ngf=8, nc=1):
        super(Generator, self).__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self, ndf=8, nc=1):
        super(Discriminator, self).__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def main():
    torch.manual_seed(7)
    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    netG, netD = Generator().to(device), Discriminator().to(device)
    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(4, 8, 1, 1, device=device)
    optD = optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.tanh(torch.randn(8, 1, 16, 16, device=device))
    lossesD = []
    for it in range(4):
        netD.zero_grad()
        label = torch.full((8,), 1.0, dtype=torch.float, device=device)
        errD_real = criterion(netD(real), label)
        errD_real.backward()
        fake = netG(torch.randn(8, 8, 1, 1, device=device))
        label.fill_(0.0)
        errD_fake = criterion(netD(fake.detach()), label)
        errD_fake.backward()
        optD.step()
        netG.zero_grad()
        label.fill_(1.0)
        errG = criterion(netD(fake), label)
        errG.backward()
        optG.step()
        lossesD.append((errD_real + errD_fake).item())
    with torch.no_grad():
        sample = netG(fixed_noise).detach().cpu()
    assert tuple(sample.shape) == (4, 1, 16, 16) and float(sample.abs().max()) <= 1.0
    return lossesD
"""


def pytest_approx(x):
    return pytest.approx(x, rel=1e-12)


def test_mnist_cnn_program():
    losses = run(MNIST_CNN, pytest_approx=pytest_approx)
    assert len(losses) == 3 and losses[-1] < losses[0]


def test_word_language_model_program():
    results = run(WORD_LM)
    assert set(results) == {"LSTM", "GRU"}


def test_dcgan_program():
    losses = run(DCGAN)
    assert len(losses) == 4 and np.isfinite(losses).all()


@pytest.mark.parametrize("program", [MNIST_CNN, DCGAN, WORD_LM], ids=["mnist", "dcgan", "word_lm"])
def test_the_same_programs_run_on_torch(program):
    """The programs are ordinary PyTorch: unported, they run on torch as well."""
    torch = pytest.importorskip("torch")
    namespace = {"pytest_approx": pytest_approx}
    exec(compile(textwrap.dedent(program), "<torch program>", "exec"), namespace)
    assert namespace["torch"] is torch
    with warnings.catch_warnings():  # torch's own notices (pin_memory without a GPU...)
        warnings.simplefilter("ignore")
        namespace["main"]()


def test_port_changes_only_imports():
    src = "import torch\nimport torch.nn as nn\nfrom torch.utils.data import DataLoader\nx = torch.ones(2)\n"
    assert port(src).splitlines() == ["import nn_core as torch", "import nn_core.nn as nn",
                                      "from nn_core.utils.data import DataLoader", "x = torch.ones(2)"]
