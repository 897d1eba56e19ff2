"""``mpirun -n 2 python -m nn_core.distributed.demo``: the digits CNN (nn_core.demo.DigitsCNN on
scikit-learn's bundled 8x8 digits) trained data-parallel with DistributedDataParallel, one
process per rank; each rank prints its throughput and how long it waited for gradients.

Per epoch and rank: samples/s of that rank, the time backward spent blocked waiting for the
gradient all-reduces ("waiting"), and the time the communication thread spent all-reducing
("communicating"); communicating minus waiting is the communication hidden behind backward.
Rank 0 then prints the summed throughput and the test accuracy. Each rank uses the machine's
cores divided by the ranks on it (``--threads`` to choose). Run without mpirun it trains
on one rank (world size 1). Needs mpi4py and scikit-learn (the ``distributed`` and
``examples`` extras).
"""
from __future__ import annotations

import argparse
import os
import time


import nn_core as nc
from nn_core import distributed as dist
from nn_core import nn
from nn_core.data import DataLoader, DistributedSampler, TensorDataset
from nn_core.nn.parallel import DistributedDataParallel


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64, help="per rank")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    p.add_argument("--bucket-cap-mb", type=float, default=25.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0,
                   help="nn_core threads per rank (0: the cores divided by the ranks on this machine)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds before a stuck collective raises")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from nn_core.demo import DigitsCNN, digits_mlp, load_digits_split

    dist.init_process_group("mpi", timeout=args.timeout)
    rank, world = dist.get_rank(), dist.get_world_size()
    # As torchrun does, ranks sharing a machine split its cores: N ranks each running all-core
    # kernels oversubscribe the CPU and spin against each other.
    local_ranks = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE", os.environ.get("MPI_LOCALNRANKS", "1")))
    nc.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // max(local_ranks, 1)))
    x_tr, y_tr, x_te, y_te = load_digits_split()
    train = TensorDataset(x_tr, y_tr)
    sampler = DistributedSampler(train, seed=args.seed)
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler)
    nc.manual_seed(args.seed)
    model = DigitsCNN() if args.model == "cnn" else digits_mlp()
    ddp = DistributedDataParallel(model, bucket_cap_mb=args.bucket_cap_mb)
    opt = nc.optim.Adam(ddp.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    group = dist._default_group()
    epochs = []
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        dist.barrier()
        wait0, busy0 = group.wait_seconds, group.busy_seconds
        start = time.perf_counter()
        seen, loss_sum = 0, 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(ddp(xb), yb)
            loss.backward()
            opt.step()
            seen += int(xb.shape[0])
            loss_sum += float(loss.item()) * int(xb.shape[0])
        seconds = time.perf_counter() - start
        waited, busy = group.wait_seconds - wait0, group.busy_seconds - busy0
        stats = {"epoch": epoch, "rank": rank, "seconds": seconds, "samples": seen, "loss": loss_sum / max(seen, 1),
                 "waiting": waited, "communicating": busy}
        epochs.append(stats)
        print(f"[rank {rank}/{world}] epoch {epoch}: loss {stats['loss']:.4f}  {seen} samples in {seconds:.2f} s = "
              f"{seen / seconds:.0f} samples/s  waiting {waited:.3f} s ({100 * waited / seconds:.1f}%)  "
              f"communicating {busy:.3f} s", flush=True)
    everyone = [None] * world
    dist.all_gather_object(everyone, epochs)
    if rank == 0:
        last = [e[-1] for e in everyone]
        total = sum(e["samples"] / e["seconds"] for e in last)
        with nc.no_grad():
            model.eval()
            accuracy = float((model(x_te).argmax(1) == y_te).float().mean().item())
        print(f"[rank 0/{world}] last epoch: {total:.0f} samples/s over {world} rank(s), epoch time "
              f"{max(e['seconds'] for e in last):.2f} s; test accuracy {accuracy:.4f}", flush=True)
    dist.destroy_process_group()
    return {"rank": rank, "world_size": world, "epochs": epochs}


if __name__ == "__main__":
    main()
