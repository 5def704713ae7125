"""The promotion gate (pure), the manifest's hashes, and what a registry version's tags carry."""

import hashlib
import json

import pytest

from t1core.tracking.gate import gate_numbers, promotion_gate
from t1core.tracking.manifest import dvc_md5, git_sha

CHAMP = {"accuracy": 0.50, "mean_tokens": 150.0, "no_answer_rate": 0.02, "penalty_overlong": 0.01,
         "penalty_repetitive": 0.0, "penalty_garbage": 0.0, "penalty_spam": 0.0, "penalty_padding": 0.0}


def _gate(candidate, champion=CHAMP, margin=0.0, tol=0.01, budget=400, same=True):
    return promotion_gate(candidate, champion, margin, tol, budget, same)


def _failed(result):
    return [c.name for c in result.checks if not c.passed]


def test_gate_passes_an_equal_or_better_model_and_names_every_check():
    result = _gate(dict(CHAMP))
    assert result.passed and [c.name for c in result.checks] == [
        "length", "same held-out data", "accuracy", "no_answer_rate", "penalty_overlong", "penalty_repetitive", "penalty_garbage",
        "penalty_spam", "penalty_padding"]
    assert "pass accuracy: 0.5000 vs champion 0.5000 + margin 0" in result.summary()


@pytest.mark.parametrize(("change", "failed"), [
    ({"accuracy": 0.519}, ["accuracy"]),  # below champion + margin 0.02
    ({"accuracy": 0.6, "no_answer_rate": 0.031}, ["no_answer_rate"]),  # tolerance 0.01 over 0.02
    ({"accuracy": 0.6, "penalty_garbage": 0.02}, ["penalty_garbage"]),
    ({"accuracy": 0.6, "penalty_spam": 0.02}, ["penalty_spam"]),
    ({"accuracy": 0.6, "penalty_padding": 0.011}, ["penalty_padding"]),
    ({"accuracy": 0.6, "mean_tokens": 401.0}, ["length"]),
])
def test_gate_fails_on_each_regression(change, failed):
    assert _failed(_gate({**CHAMP, **change}, margin=0.02)) == failed


def test_gate_edges_are_inclusive():
    assert _gate({**CHAMP, "accuracy": 0.52}, margin=0.02).passed  # exactly champion + margin
    assert _gate({**CHAMP, "no_answer_rate": 0.03}).passed  # exactly champion + tolerance
    assert _gate({**CHAMP, "mean_tokens": 400.0}).passed  # exactly the budget


def test_gate_reads_a_rate_the_champion_was_registered_without_as_zero():
    old_champion = {k: v for k, v in CHAMP.items() if k not in ("penalty_spam", "penalty_padding")}
    assert _gate({**CHAMP, "penalty_spam": 0.01}, champion=old_champion).passed  # 0 + tolerance 0.01
    assert _failed(_gate({**CHAMP, "penalty_padding": 0.02}, champion=old_champion)) == ["penalty_padding"]


def test_gate_without_a_champion_checks_length_only():
    assert _gate({**CHAMP, "accuracy": 0.01}, champion=None).passed
    assert _failed(_gate({**CHAMP, "mean_tokens": 999.0}, champion=None)) == ["length"]


def test_gate_refuses_a_champion_scored_on_other_data():
    assert _failed(_gate({**CHAMP, "accuracy": 0.9}, same=False)) == ["same held-out data"]


def test_gate_numbers_come_from_the_greedy_block():
    report = {"greedy": {"accuracy": 0.6, "mean_tokens": 120.5, "no_answer_rate": 0.1,
                         "penalty_rates": {"overlong": 0.2, "repetitive": 0.0, "garbage": 0.05, "spam": 0.03}},
              "sampled": {"accuracy": 0.1}}
    assert gate_numbers(report) == {"accuracy": 0.6, "mean_tokens": 120.5, "no_answer_rate": 0.1, "penalty_overlong": 0.2,
                                    "penalty_repetitive": 0.0, "penalty_garbage": 0.05, "penalty_spam": 0.03,
                                    "penalty_padding": 0.0}


def test_dvc_md5_of_files_and_directories(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "b.txt").write_bytes(b"bee")
    (tmp_path / "d" / "sub" / "a.txt").write_bytes(b"ay")
    assert dvc_md5(tmp_path / "d" / "b.txt") == hashlib.md5(b"bee").hexdigest()
    listing = [{"md5": hashlib.md5(b"bee").hexdigest(), "relpath": "b.txt"}, {"md5": hashlib.md5(b"ay").hexdigest(), "relpath": "sub/a.txt"}]
    assert dvc_md5(tmp_path / "d") == hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"
    with pytest.raises(FileNotFoundError):
        dvc_md5(tmp_path / "missing")


def test_git_sha_outside_a_checkout_is_unknown(tmp_path):
    assert git_sha(tmp_path) == "unknown"
