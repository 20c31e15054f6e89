import json

from cppcc_themes.experiments.cli import main


def test_tag_jsonl_keeps_ids_and_follows_the_contract(packaged_model_dir, tmp_path, capsys):
    source = tmp_path / "paragraphs.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "p-1", "text": "坚持和加强党对政协工作的全面领导"},
        {"id": "p-2", "text": "围绕优化营商环境、推动制造业高质量发展开展专题协商"},
    ]) + "\n", encoding="utf-8")
    code = main(["tag", str(source), "--model", str(packaged_model_dir), "--format", "jsonl"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [r["id"] for r in rows] == ["p-1", "p-2"]
    assert all(set(r) == {"report", "id", "index", "heading", "text", "themes", "scores",
                          "evidence"}
               for r in rows)
    assert rows[0]["report"] == "paragraphs" and rows[1]["index"] == 1
    assert set(rows[0]["scores"]) == {"ideology", "economy", "livelihood", "united_front",
                                      "self_construction"}


def test_tag_report_writes_csv_to_a_file(packaged_model_dir, seed_paths, tmp_path):
    out = tmp_path / "tags.csv"
    code = main(["tag", str(seed_paths["seed-001"]), "--model", str(packaged_model_dir),
                 "--format", "csv", "--output", str(out)])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert code == 0
    assert lines[0].startswith("report,id,index,heading,text,themes,score_ideology")
    assert len(lines) == 1 + 19


def test_table_output_shows_every_paragraph(packaged_model_dir, seed_paths, capsys):
    assert main(["tag", str(seed_paths["seed-000"]), "--model", str(packaged_model_dir)]) == 0
    out = capsys.readouterr().out
    assert "seed-000: 9 paragraphs" in out


def test_bad_file_is_reported_and_the_rest_still_tagged(packaged_model_dir, seed_paths, tmp_path,
                                                         capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "好"}\nnot json\n', encoding="utf-8")
    code = main(["tag", str(bad), str(tmp_path / "missing.txt"), str(seed_paths["seed-000"]),
                 "--model", str(packaged_model_dir), "--format", "jsonl"])
    captured = capsys.readouterr()
    assert code == 1
    assert f"{bad}:2: line is not JSON" in captured.err
    assert "missing.txt: no such file" in captured.err
    assert len(captured.out.splitlines()) == 9


def test_missing_model_exits_2_with_one_line(tmp_path, seed_paths, capsys):
    code = main(["tag", str(seed_paths["seed-000"]), "--model", str(tmp_path / "none")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no model directory" in err[0]


def test_console_script_quick_exit_loses_nothing(packaged_model_dir, seed_paths, tmp_path,
                                                 capsys):
    """The installed command leaves `tag` without the interpreter's teardown: everything
    written to a pipe and to --output must still be there, with the right exit code."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    # Buffered streams, as users have them: what is still in a buffer at exit must get out.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    script = Path(sys.executable).parent / "cppcc-themes"
    inputs = [str(path) for path in seed_paths.values()]
    missing = str(tmp_path / "missing.txt")
    common = ["tag", *inputs, missing, "--model", str(packaged_model_dir), "--format", "jsonl"]
    assert main(common) == 1
    expected = capsys.readouterr().out
    piped = subprocess.run([str(script), *common], capture_output=True, text=True, check=False,
                           env=env)
    assert piped.returncode == 1
    assert piped.stdout == expected and len(expected.splitlines()) == 9 + 19 + 37 + 31
    assert piped.stderr.splitlines()[0].startswith(f"cppcc-themes: error: {missing}")
    out = tmp_path / "tags.jsonl"
    written = subprocess.run([str(script), *common, "--output", str(out)],
                             capture_output=True, text=True, check=False, env=env)
    assert written.returncode == 1 and out.read_text(encoding="utf-8") == expected
