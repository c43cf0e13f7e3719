"""Chapter 9's data parallelism: DistributedDataParallel launched by torchrun, over gloo on
loopback, against one process on the same global batches; and the launcher's two-node form."""

from __future__ import annotations

import pytest
import torch

from llm_evolution import distributed
from tests.incremental import run_when_changed

# serial: torchrun starts two training processes, one per core.
pytestmark = pytest.mark.serial

TOLERANCE = 1e-5  # largest absolute weight difference allowed after the steps


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Seconds of process start-up per launch: run again only when the code changes."""
    yield from run_when_changed(request, "llm_evolution.distributed")


def test_two_processes_equal_one(tmp_path):
    out = tmp_path / "weights.pt"
    distributed.torchrun(out, nproc_per_node=2)
    world_size, difference = distributed.compare(out)
    assert world_size == 2
    assert difference < TOLERANCE


def test_two_nodes_on_one_machine_equal_one_process(tmp_path):
    out = tmp_path / "weights.pt"
    commands = distributed.torchrun(out, nproc_per_node=1, nnodes=2)
    assert [next(a for a in c if a.startswith("--node_rank")) for c in commands] == [
        "--node_rank=0", "--node_rank=1"]
    world_size, difference = distributed.compare(out)
    assert world_size == 2
    assert difference < TOLERANCE


def test_the_comparison_can_fail(tmp_path):
    """compare() measures: weights trained on other batches differ by far more."""
    model = distributed.train_one_process(distributed.fresh_model(),
                                          distributed.global_batches(seed=1))
    out = tmp_path / "other.pt"
    torch.save({"world_size": 1, "state": model.state_dict()}, out)
    assert distributed.compare(out)[1] > 100 * TOLERANCE


def test_shard_cuts_equal_slices_and_names_the_fix():
    batch = (torch.arange(8).view(4, 2), torch.arange(8).view(4, 2))
    assert distributed.shard(batch, 1, 2)[0].tolist() == [[4, 5], [6, 7]]
    with pytest.raises(ValueError, match="multiple of the number of ranks"):
        distributed.shard(batch, 0, 3)


def test_fully_sharded_equals_one_process_and_holds_half_per_rank(tmp_path):
    ddp, fsdp = tmp_path / "ddp.pt", tmp_path / "fsdp.pt"
    distributed.torchrun(ddp, sharding="ddp")
    distributed.torchrun(fsdp, sharding="fsdp")
    assert distributed.compare(fsdp)[1] < TOLERANCE
    whole, sharded = distributed.memory_per_rank(ddp), distributed.memory_per_rank(fsdp)
    model_bytes = sum(p.nbytes for p in distributed.fresh_model().parameters())
    assert whole == {"parameters": model_bytes, "optimizer state": 2 * model_bytes}  # AdamW
    assert sharded == {key: value // 2 for key, value in whole.items()}
