"""SFT on a real DeepSpeed engine (gloo, CPU): parameters move, loss falls, resume is exact."""

import itertools
from types import SimpleNamespace

import pytest
import torch

from t1core.config import DeepSpeedConfig, ModelConfig, SFTConfig
from t1core.models.chat import encode_example
from t1core.models.engine import make_engine, make_optimizer
from t1core.models.factory import build_tiny
from t1core.models.tokenizer import train_tokenizer
from t1core.sft.data import Example
from t1core.sft import trainer as trainer_module
from t1core.sft.schedule import lr_multiplier, warmup_cosine
from t1core.models.checkpoint import latest_checkpoint
from t1core.sft.trainer import SFTTrainer
from tests.conftest import last_bar, record_forwards

pytestmark = pytest.mark.integration
TINY = ModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, max_seq_len=128, vocab_size=300)
PAIRS = [(f"Compute {a}+{b}.", f"{a}+{b}={a + b}\nCheck: {a + b}-{b}={a} ok\nSo the answer is \\boxed{{{a + b}}}.")
         for a in range(10, 40, 3) for b in range(5, 30, 4)]


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer([p + "\n" + r for p, r in PAIRS], vocab_size=300)


def _examples(tok):
    return [Example(*encode_example(tok, p, r)) for p, r in PAIRS]


def _trainer(tok, examples, tmp_path, seed=0, ds=DeepSpeedConfig(), **cfg):
    cfg = SFTConfig(lr=3e-3, epochs=4, batch_tokens=600, warmup_fraction=0.0, checkpoint_every=10**6, **cfg)
    model = build_tiny(TINY, tok, seed=seed)
    opt = make_optimizer(model.parameters(), cfg.lr, 0.0, ds)
    clock = []  # as the sft stage wires it: the trainer's share of its cap drives the schedule
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_multiplier(40, 0, 0.1, lambda: clock[0].cap_share() if clock else 0.0))
    engine = make_engine(model, opt, sched, ds, cfg.grad_clip, "float32")
    clock.append(SFTTrainer(engine, examples, cfg, tok.pad_token_id, seed=7, ckpt_dir=tmp_path / "ckpt"))
    return clock[0]


@pytest.mark.parametrize("anneal", [False, True])
def test_a_run_the_cap_stops_ends_annealed_only_when_asked(tok, tmp_path, monkeypatch, capsys, anneal):
    ticks = itertools.count()
    monkeypatch.setattr(trainer_module, "time", SimpleNamespace(monotonic=lambda: next(ticks) * 0.25))  # 0.25 s a step
    trainer = _trainer(tok, _examples(tok), tmp_path, max_minutes=0.05, anneal_within_cap=anneal)  # 3 s: 12 of 40 steps
    trainer.total = 40
    state = trainer.train()
    assert state.step == 12 and trainer.stopped_by_cap()
    lr = trainer.engine.get_lr()[0]
    by_steps = 3e-3 * warmup_cosine(12, 40, 0, 0.1)  # 12 of 40 steps into the cosine: 82 % of the peak
    if anneal:  # the schedule steps inside the optimizer step, before that step's seconds are counted: 11 steps' share
        assert lr == pytest.approx(3e-3 * warmup_cosine(12, 40, 0, 0.1, time_share=11 * 0.25 / 3))
        assert lr < 1.2 * 3e-3 * 0.1 < by_steps
    else:
        assert lr == pytest.approx(by_steps)
    early = capsys.readouterr().err  # the trainer's projection once a tenth of the cap has run (0.5 s: 2 steps)
    assert ("cap will stop training near step 12 of 40" in early) is not anneal
    assert last_bar(early, "sft") == (12, 12)  # the bar's total is where the cap stops it, not the planned 40
    trainer.warn_if_cut()  # the sft stage's message after training
    warned = capsys.readouterr().err
    assert ("stopped training at step 12 of 40" in warned and "sft.anneal_within_cap=true" in warned) is not anneal


def test_two_deepspeed_steps_move_every_parameter_and_lower_the_loss(tok, tmp_path):
    examples = _examples(tok)
    trainer = _trainer(tok, examples, tmp_path)
    assert type(trainer.engine).__name__ == "DeepSpeedEngine"
    before = {n: p.detach().clone() for n, p in trainer.engine.module.named_parameters()}
    batch = list(range(8))
    losses = [trainer.train_step(batch) for _ in range(2)]
    unchanged = [n for n, p in trainer.engine.module.named_parameters() if torch.equal(p, before[n])]
    assert not unchanged
    assert losses[1] < losses[0]


def test_resume_gives_the_same_next_losses(tok, tmp_path):
    examples = _examples(tok)
    full = _trainer(tok, examples, tmp_path / "a", max_minutes=None)
    full.total = 6
    straight = full.train().losses

    first = _trainer(tok, examples, tmp_path / "b")
    first.total = 3
    first.train()  # saves step_0000003 at the end
    ckpt = latest_checkpoint(tmp_path / "b" / "ckpt")
    assert ckpt is not None and ckpt.name == "step_0000003" and (ckpt / "hf" / "model.safetensors").is_file()

    resumed = _trainer(tok, examples, tmp_path / "b", seed=99)  # different init: everything must come from the checkpoint
    resumed.total = 6
    resumed.resume(ckpt)
    assert resumed.state.step == 3
    after = resumed.train().losses
    assert after[:3] == pytest.approx(straight[:3], abs=1e-7)
    assert after[3:] == pytest.approx(straight[3:], abs=1e-6)


def test_incomplete_checkpoint_is_ignored(tmp_path):
    from t1core.models.checkpoint import _seal

    (tmp_path / "step_0000005.tmp").mkdir(parents=True)
    (tmp_path / "step_0000002").mkdir()
    (tmp_path / "step_0000002" / "state.json").write_text("{}")
    _seal(tmp_path / "step_0000002")
    (tmp_path / "step_0000003").mkdir()
    (tmp_path / "step_0000003" / "state.json").write_text("{}")  # no manifest: never finished sealing
    (tmp_path / "step_0000004").mkdir()  # no state.json: not complete
    assert latest_checkpoint(tmp_path).name == "step_0000002"


def test_zero3_partitioned_weights_are_gathered_for_eval_and_save(tok, tmp_path):
    """ZeRO-3 leaves empty placeholders in the module outside a forward pass; the evaluator (lean sampler),
    `save_pretrained` and the parameter count must see the full weights."""
    from safetensors.torch import load_file

    from t1core.models.checkpoint import write_checkpoint
    from t1core.models.factory import n_params

    # partition every parameter, however small (the default keeps those under 1e5 elements whole)
    trainer = _trainer(tok, _examples(tok), tmp_path, ds=DeepSpeedConfig(zero_stage=3, param_persistence_threshold=0))
    full = {n: tuple(p.shape) for n, p in build_tiny(TINY, tok, seed=0).named_parameters()}
    trainer.train_step(list(range(8)))
    assert all(p.numel() == 0 for p in trainer.engine.module.parameters())  # what the sampler would read unguarded
    seen = {}
    trainer.evaluate = lambda module, final: seen.update({n: tuple(p.shape) for n, p in module.named_parameters()}) or {}
    trainer.final_eval()
    assert seen == full
    saved = load_file(write_checkpoint(trainer.engine, tmp_path / "c", {}) / "hf" / "model.safetensors")
    assert {n: tuple(t.shape) for n, t in saved.items() if n in full} == {n: s for n, s in full.items() if n in saved}
    assert all(t.abs().sum() > 0 for t in saved.values())
    assert n_params(trainer.engine.module) == sum(torch.Size(s).numel() for s in full.values())
    assert trainer.train_step(list(range(8))) > 0  # partitioned again, and training goes on


def test_zero_optimizer_offload_trains_like_plain_adamw(tok, tmp_path):
    """`deepspeed.offload_optimizer`: DeepSpeed refuses a torch optimizer there, so the trainers get its CPU Adam
    (compiled at first use, about a minute); the losses must be those of ZeRO-0 with torch AdamW."""
    examples, batch = _examples(tok), list(range(8))
    plain = _trainer(tok, examples, tmp_path / "plain")
    offload = _trainer(tok, examples, tmp_path / "offload", ds=DeepSpeedConfig(zero_stage=2, offload_optimizer=True))
    assert type(offload.engine.optimizer).__name__ == "DeepSpeedZeroOptimizer" and offload.engine.optimizer.cpu_offload
    expected = [plain.train_step(batch) for _ in range(4)]
    assert [offload.train_step(batch) for _ in range(4)] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("zero", [0, 3])
def test_activation_checkpointing_trains_like_storing_activations(tok, tmp_path, zero):
    """`deepspeed.activation_checkpointing` (the GPU profiles turn it on) recomputes each layer in backward:
    the same losses, alone and under ZeRO-3 with every parameter partitioned."""
    examples, batch = _examples(tok), list(range(8))
    ds = DeepSpeedConfig(zero_stage=zero, param_persistence_threshold=0)
    plain = _trainer(tok, examples, tmp_path / "plain", ds=ds)
    recompute = _trainer(tok, examples, tmp_path / "recompute", ds=ds.model_copy(update={"activation_checkpointing": True}))
    assert recompute.engine.module.is_gradient_checkpointing and not plain.engine.module.is_gradient_checkpointing
    expected = [plain.train_step(batch) for _ in range(3)]
    assert [recompute.train_step(batch) for _ in range(3)] == pytest.approx(expected, rel=1e-5)


def test_a_loaded_checkpoint_trains_in_train_mode_with_activation_checkpointing(tok, tmp_path):
    """`load_pretrained` returns a model in eval mode, where HF skips gradient checkpointing. RL always starts
    from a loaded checkpoint, and SFT does on every hf profile, so the engine must put its module in train mode."""
    from t1core.models.factory import load_pretrained, save_pretrained
    from t1core.sft.data import collate

    save_pretrained(build_tiny(TINY, tok, seed=0), tok, tmp_path / "m")
    model, _ = load_pretrained(tmp_path / "m", TINY.model_copy(update={"kind": "hf", "path": str(tmp_path / "m")}))
    ds = DeepSpeedConfig(activation_checkpointing=True)
    engine = make_engine(model, make_optimizer(model.parameters(), 1e-3, 0.0, ds), None, ds, 1.0, "float32")
    calls = []
    record_forwards(engine.module.model.layers[0].mlp, calls)
    engine.backward(engine(**collate(_examples(tok)[:8], tok.pad_token_id)).loss)
    assert engine.module.training and len(calls) == 2  # the forward pass, and its recomputation in backward
