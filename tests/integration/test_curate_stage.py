"""`t1 curate` end to end through the CLI, on the embedded default and on real data."""

import json

import pytest
from typer.testing import CliRunner

from t1core.cli import app

SMALL = ["--set", "data.procedural.items_per_family_level=40", "--set", "data.procedural.heldout_items_per_family_level=8",
         "--set", "data.procedural.levels=[1, 2, 3]", "--set", "data.procedural.families=[arith,chain,linear,root,factor]"]


def _read(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_curate_embedded_writes_splits_and_metrics(project):
    res = CliRunner().invoke(app, [*SMALL, "curate"])
    assert res.exit_code == 0, res.output
    splits = {s: _read(project / "data/curated" / f"{s}.jsonl") for s in ("sft", "rl", "heldout")}
    assert len(splits["heldout"]) == 5 * 3 * 8
    assert len(splits["sft"]) + len(splits["rl"]) == 5 * 3 * 40
    texts = [{r["problem"] for r in rows} for rows in splits.values()]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])
    m = json.loads((project / "metrics/curate.json").read_text())
    assert m["splits"] == {k: len(v) for k, v in splits.items()}
    assert m["sources"]["procedural"]["loaded"] == m["sources"]["procedural"]["kept"] == 5 * 3 * 48
    assert m["run"]["profile"] == "embedded" and len(m["run"]["config_hash"]) == 12
    assert (project / "data/curated/quarantine.jsonl").read_text() == ""


def test_curate_is_deterministic(project):
    runner = CliRunner()
    assert runner.invoke(app, [*SMALL, "curate"]).exit_code == 0
    first = (project / "data/curated/rl.jsonl").read_bytes()
    assert runner.invoke(app, [*SMALL, "curate"]).exit_code == 0
    assert (project / "data/curated/rl.jsonl").read_bytes() == first


def test_every_row_is_accounted_for(project, tmp_path):
    """kept + dropped (per reason) == loaded, and bad rows are quarantined, never lost."""
    src = tmp_path / "src.jsonl"
    rows = [
        {"problem": "What is 1+1?", "solution": r"$\boxed{2}$"},
        {"problem": "What is 1+1?", "solution": r"$\boxed{2}$"},
        {"problem": "Prove that 3 is odd.", "solution": r"$\boxed{3}$"},
        {"problem": "No answer here.", "solution": "none"},
        {"problem": "x" * 3000, "solution": r"$\boxed{1}$"},
    ]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    spec = f"data.sources=[{{name: m, kind: math, path: {src}}}]"
    res = CliRunner().invoke(app, ["--set", spec, "--set", "data.quarantine=true", "curate"])
    assert res.exit_code == 0, res.output
    m = json.loads((project / "metrics/curate.json").read_text())["sources"]["m"]
    assert m["loaded"] == 5 and m["kept"] == 1
    assert m["dropped"] == {"exact_duplicate": 1, "proof": 1, "no_answer": 1, "problem_too_long": 1}
    q = _read(project / "data/curated/quarantine.jsonl")
    assert [(r["file"], r["line"]) for r in q] == [(str(src), 6)]


# the issue-#9 corpus in one benchmark-format file: (line bytes, what happens to it)
CORPUS = [
    (b'{"id": "a", "problem": "What is 2+3?", "answer": "5"}', "kept"),
    (b'{"id": "a", "problem": "What is 7+8?", "answer": "15"}', "dropped: duplicate_id"),
    (b'{"id": "b", "problem": "' + b"x" * 1_000_000 + b'", "answer": "1"}', "dropped: problem_too_long"),
    (b'{"id": "c", "problem": "What is 9+9?", "answer": ["18"]}', "quarantined: answer"),
    (b'{"id": "d", "problem": "What is 4+4?", "answer": "8", "hint": "add"}', "quarantined: hint"),
    (b'{"id": "e", "answer": "8"}', "quarantined: problem"),
    (b'{"id": "f", "problem": "caf\xc3\xa9 \xff", "answer": "1"}', "quarantined: None"),
    (b"", "blank"),
    (b'{"id": "g", "problem": "What is 6+6?", "answer": "12"}', "kept"),
    (b'{"id": "h", "problem": "What is 1+', "quarantined: None"),  # truncated last line, no newline
]


def test_bad_input_corpus_is_counted_or_quarantined_never_lost(project, tmp_path):
    src = tmp_path / "corpus.jsonl"
    src.write_bytes(b"\n".join(line for line, _ in CORPUS))
    spec = f"data.sources=[{{name: c, kind: benchmark, path: {src}}}]"
    res = CliRunner().invoke(app, ["--set", spec, "--set", "data.quarantine=true", "curate"])
    assert res.exit_code == 0, res.output
    m = json.loads((project / "metrics/curate.json").read_text())["sources"]["c"]
    assert m["loaded"] == 4 and m["kept"] == 2
    assert m["dropped"] == {"duplicate_id": 1, "problem_too_long": 1}
    quarantined = [(i + 1, fate.split(": ")[1]) for i, (_, fate) in enumerate(CORPUS) if fate.startswith("quarantined")]
    q = _read(project / "data/curated/quarantine.jsonl")
    assert [(r["line"], str(r["field"])) for r in q] == quarantined and {r["file"] for r in q} == {str(src)}
    assert m["kept"] + sum(m["dropped"].values()) + len(q) + 1 == len(CORPUS)  # + the blank line
    # without the quarantine the first bad row stops the stage, naming file, line and field
    res = CliRunner().invoke(app, ["--set", spec, "curate"])
    assert res.exit_code == 2 and f"{src}:4: field 'answer': expected str/int/float, got list" in res.output
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    res = CliRunner().invoke(app, ["--set", f"data.sources=[{{name: e, kind: benchmark, path: {empty}}}]", "curate"])
    assert res.exit_code == 2 and f"{empty}:0: empty file" in res.output


def test_bad_source_without_quarantine_fails_naming_the_line(project, tmp_path):
    src = tmp_path / "src.jsonl"
    src.write_text('{"problem": "p", "solution": "s"}\n{"problem": "p", "sol": "s"}\n')
    res = CliRunner().invoke(app, ["--set", f"data.sources=[{{name: m, kind: math, path: {src}}}]", "curate"])
    assert res.exit_code == 2
    assert f"{src}:2: field 'solution': missing field" in res.output


def test_bad_params_fail_before_any_compute(project):
    res = CliRunner().invoke(app, ["--set", "rl.k=0", "curate"])
    assert res.exit_code == 2 and "rl.k" in res.output
    assert not (project / "data").exists()


def test_real_math_and_gsm8k_bars(project, shared_data):
    """MATH train: a checkable gold answer for >= 99% of items; eval sets decontaminate."""
    evals = f"[{{name: math500, kind: benchmark, path: {shared_data}/math/math500_with_solutions.jsonl}}, {{name: aime24, kind: benchmark, path: {shared_data}/benchmarks/aime24/test.jsonl}}]"
    res = CliRunner().invoke(app, [
        "--profile", "math-real", "--set", f"data.sources.0.path={shared_data}/math/train.jsonl",
        "--set", f"data.sources.1.path={shared_data}/gsm8k/train.jsonl", "--set", f"data.eval_sets={evals}", "curate",
    ])
    assert res.exit_code == 0, res.output
    m = json.loads((project / "metrics/curate.json").read_text())
    assert m["sources"]["math"]["loaded"] == 7500 and m["sources"]["gsm8k"]["loaded"] == 7473
    assert m["sources"]["math"]["gold_recovered_fraction"] >= 0.99
    assert m["sources"]["gsm8k"]["gold_recovered_fraction"] == 1.0
    assert m["sources"]["math"]["dropped"]["contaminated"] > 0
    assert m["eval_texts"] == 530
    for s in m["sources"].values():
        assert s["kept"] + sum(s["dropped"].values()) == s["loaded"]


def test_grade_meets_the_math500_bar(shared_data):
    res = CliRunner().invoke(app, ["grade", str(shared_data / "math/math500_with_solutions.jsonl"),
                                   "--answer-field", "answer", "--response-field", "solution"])
    assert res.exit_code == 0, res.output
    first = res.output.splitlines()[0]
    agree = int(first.split(":")[1].split()[0])
    assert first.startswith("graded 500") and agree >= 490  # >= 98%


def test_grade_audit_reports_disagreements(tmp_path):
    from tests.conftest import FIXTURES

    out = tmp_path / "report.json"
    res = CliRunner().invoke(app, ["grade", str(FIXTURES / "grade_audit.jsonl"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("graded 5: 3 agree, 2 disagree, accuracy 60.00%")
    assert "line 3: gold='7' extracted='8' (mismatch)" in res.output
    assert "line 5: gold='(1,2)' extracted=None (no_answer)" in res.output
    report = json.loads(out.read_text())
    assert [m["line"] for m in report["misses"]] == [3, 5]
    res = CliRunner().invoke(app, ["grade", str(FIXTURES / "grade_audit.jsonl"), "--mode", "lenient"])
    assert res.output.startswith("graded 5: 4 agree")


def test_grade_audit_names_missing_field(tmp_path):
    from tests.conftest import FIXTURES

    res = CliRunner().invoke(app, ["grade", str(FIXTURES / "grade_audit.jsonl"), "--response-field", "output"])
    assert res.exit_code == 2
    assert "grade_audit.jsonl:1: field 'output': missing field" in res.output


def test_params_command_prints_hash(project):
    res = CliRunner().invoke(app, ["--profile", "qwen2.5-32b", "params"])
    assert res.exit_code == 0
    resolved = json.loads(res.output)
    assert resolved["rl"]["k"] == 64 and len(resolved["config_hash"]) == 12
