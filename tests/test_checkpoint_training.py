"""Resume with the real training stack: a model with dropout, AdamW (amsgrad), a cosine LR
schedule and a shuffling DataLoader stopped mid-epoch. Train N steps and save; restore in a
fresh process and train M more; the parameters and optimizer state must be bitwise equal
to N + M steps without the save. Also the DataLoader's position on its own.

This file doubles as the child script: `python tests/test_checkpoint_training.py MODE ...`.
"""
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def make_run():
    import nn_core as nc
    from nn_core import nn, optim
    from nn_core.data import DataLoader, TensorDataset

    nc.manual_seed(1234)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    opt = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05, amsgrad=True)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=25)
    rng = np.random.default_rng(7)
    data = TensorDataset(nc.from_numpy(rng.standard_normal((44, 8)).astype(np.float32)),
                         nc.from_numpy(rng.integers(0, 3, 44)))
    loader = DataLoader(data, batch_size=8, shuffle=True, generator=99)  # 6 batches an epoch
    return model, opt, sched, loader


def train(model, opt, sched, loader, steps):
    import nn_core as nc
    done = 0
    while done < steps:
        for x, y in loader:
            loss = nc.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            done += 1
            if done == steps:
                return


def final_state(model, opt):
    state = {f"p.{k}": v for k, v in model.state_dict().items()}
    for i, s in opt.state_dict()["state"].items():
        for name, value in s.items():
            if hasattr(value, "numpy"):
                state[f"s.{i}.{name}"] = value
    return state


def child(mode, *args):
    import nn_core as nc
    model, opt, sched, loader = make_run()
    if mode == "full":
        steps, out = int(args[0]), args[1]
        train(model, opt, sched, loader, steps)
    elif mode == "first":
        steps, ckpt, out = int(args[0]), args[1], args[2]
        train(model, opt, sched, loader, steps)
        nc.checkpoint.save(ckpt, model=model, optimizer=opt, scheduler=sched, data_loader=loader, step=steps)
    else:  # resume
        ckpt, steps, out = args[0], int(args[1]), args[2]
        nc.checkpoint.load(ckpt, model=model, optimizer=opt, scheduler=sched, data_loader=loader)
        train(model, opt, sched, loader, steps)
    nc.save(final_state(model, opt), out)


def test_resume_with_real_optimizer_scheduler_loader_is_bitwise_equal(tmp_path):
    import nn_core as nc
    from child_process import run_python

    def run(*args):
        r = run_python([str(Path(__file__)), *map(str, args)], cwd=tmp_path, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    n, m = 9, 10  # the save falls in the middle of the second epoch
    run("full", n + m, tmp_path / "full.safetensors")
    run("first", n, tmp_path / "ckpt.safetensors", tmp_path / "first.safetensors")
    run("resume", tmp_path / "ckpt.safetensors", m, tmp_path / "resumed.safetensors")
    full, resumed = nc.load(tmp_path / "full.safetensors"), nc.load(tmp_path / "resumed.safetensors")
    first = nc.load(tmp_path / "first.safetensors")
    assert set(full) == set(resumed) and len(full) > 4
    for k in full:
        assert np.array_equal(full[k].numpy(), resumed[k].numpy()), f"{k} differs after resume"
    assert not np.array_equal(full["p.0.weight"].numpy(), first["p.0.weight"].numpy())


def test_data_loader_position_round_trip():
    import nn_core as nc
    from nn_core.data import DataLoader, TensorDataset
    data = TensorDataset(nc.arange(20))
    a = DataLoader(data, batch_size=3, shuffle=True, generator=5)
    it = iter(a)
    seen = [next(it)[0].tolist() for _ in range(4)]
    state = a.state_dict()
    rest_a = [b[0].tolist() for b in it] + [b[0].tolist() for b in a]  # rest of the epoch, then the next one
    b = DataLoader(data, batch_size=3, shuffle=True, generator=0)
    b.load_state_dict(state)
    rest_b = [x[0].tolist() for x in b] + [x[0].tolist() for x in b]
    assert rest_a == rest_b
    assert sorted(sum(seen, []) + sum(rest_a[:3], [])) == list(range(20))


if __name__ == "__main__":
    child(*sys.argv[1:])
