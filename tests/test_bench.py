"""The benchmark harness's own logic: process measurement, output checking, table rendering.

No timing is asserted: only that the harness measures, compares and reports correctly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_PATH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("trigrep_bench_run", BENCH_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_json_elapsed_times_are_masked(bench) -> None:
    line = (b'{"data":{"elapsed_total":{"human":"0.041319s","nanos":41318690,"secs":0},'
            b'"stats":{"elapsed":{"human":"0.000012s","nanos":12345,"secs":0}}},'
            b'"type":"summary"}\n')
    other = line.replace(b"12345", b"999").replace(b"41318690", b"7").replace(b"0.0", b"1.0")
    assert bench.normalize(line) == bench.normalize(other)
    assert bench.normalize(line) != bench.normalize(line.replace(b"summary", b"end"))
    assert bench.normalize(b'{"text":"elapsed"}') == b'{"text":"elapsed"}'


def test_first_difference_points_at_the_first_differing_line(bench) -> None:
    assert bench.first_difference(b"a\nb\n", b"a\nb\n") is None
    report = bench.first_difference(b"a\nb\nc\n", b"a\nX\nc\n")
    assert "line 2" in report and "X" in report
    assert "line 3" in bench.first_difference(b"a\nb\n", b"a\nb\nextra\n")


def test_sample_paths_takes_every_kth_of_the_sorted_list(bench) -> None:
    paths = [f"f{i:02}" for i in range(10)][::-1]
    assert bench.sample_paths(paths, 4) == ["f00", "f04", "f08"]
    assert bench.sample_paths(paths, 1) == sorted(paths)


def test_tree_rss_sums_descendants_only(bench) -> None:
    table = {10: (1, 100), 11: (10, 50), 12: (11, 25), 20: (1, 1000)}
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    assert bench.tree_rss_kib(10, table) == 175 * page_kib
    assert bench.tree_rss_kib(12, table) == 25 * page_kib


def test_run_command_captures_output_exit_code_and_memory(bench, tmp_path: Path) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    run = bench.run_command([sys.executable, "-c", code], tmp_path, dict(os.environ), 60,
                            sample_rss=True)
    assert (run.stdout, run.stderr, run.returncode, run.error) == (b"out\n", b"err\n", 3, None)
    assert run.peak_rss_kib > 0
    assert bench.search_failed(run)


def test_a_missing_program_or_a_traceback_is_a_failure_not_a_crash(bench, tmp_path: Path) -> None:
    missing = bench.run_command([str(tmp_path / "nope")], tmp_path, dict(os.environ), 60)
    assert missing.error and bench.search_failed(missing)
    crash = bench.run_command([sys.executable, "-c", "raise SystemError('boom')"], tmp_path,
                              dict(os.environ), 60)
    assert crash.returncode == 1 and bench.search_failed(crash)
    assert "SystemError: boom" in bench.failure_text(crash)
    no_match = bench.Run(0.1, 1)
    assert not bench.search_failed(no_match)


def test_markdown_table_escapes_pipes_and_formats_cells(bench) -> None:
    result = bench.QueryResult(
        bench.Query(("a|b",), ("a|b",)),
        {"rg": bench.Cell(0.010), "csearch": bench.Cell(0.002), "trigrep": bench.Cell(0.020),
         "daemon": bench.Cell(0.005), "api": bench.Cell(note="ERR")},
        "OK", "OK",
    )
    table = bench.markdown_table([bench.query_row(result.query.label, result)])
    row = table.splitlines()[-1]
    assert row == ("| 'a\\|b' | 10.0 ms | 2.0 ms | 20.0 ms | 5.0 ms | ERR | 10.00x | 2.00x | "
                   "2.50x | 0.50x |  | OK |")
    assert len(table.splitlines()[0].split(" | ")) == len(bench.COLUMNS)


def test_the_check_cell_names_the_cli_and_the_daemon_only_when_they_disagree(bench) -> None:
    query = bench.Query(("x",), None)
    assert bench.combined_check(bench.QueryResult(query, {}, "OK")) == "OK"
    assert bench.combined_check(bench.QueryResult(query, {}, "DIFF", "DIFF")) == "DIFF"
    assert bench.combined_check(bench.QueryResult(query, {}, "OK", "ERR")) == "CLI OK, daemon ERR"


def test_percentiles_interpolate_between_ranks(bench) -> None:
    values = [float(v) for v in range(10, 0, -1)]
    assert bench.percentile(values, 50) == 5.5
    assert bench.percentile(values, 95) == pytest.approx(9.55)
    assert bench.percentile([3.0], 95) == 3.0


def test_searches_the_daemon_did_not_count_are_reported(bench, tmp_path: Path,
                                                        monkeypatch) -> None:
    daemon = bench.Daemon(tmp_path, ["trigrep"], {}, 60, baseline=5, sent=2)
    root = os.path.realpath(tmp_path)
    counted = {"served": True, "roots": [{"root": root, "searches": 7},
                                         {"root": "/elsewhere", "searches": 100}]}
    monkeypatch.setattr(daemon, "status", lambda: counted)
    assert daemon.unverified() is None
    daemon.sent = 3
    assert "3 searches sent but it ran 2" in daemon.unverified()
    monkeypatch.setattr(daemon, "status", lambda: None)
    assert "does not report it serving" in daemon.unverified()


def test_an_edit_is_undone_and_a_new_file_removed(bench, tmp_path: Path) -> None:
    edited, new = tmp_path / "a.c", tmp_path / "b.c"
    edited.write_bytes(b"int a;\n")
    os.utime(edited, ns=(1_000_000_000, 2_000_000_000))
    with bench.appended(edited, b"token\n"), bench.created(new, b"token\n"):
        assert edited.read_bytes() == b"int a;\ntoken\n" and new.exists()
    assert edited.read_bytes() == b"int a;\n" and not new.exists()
    assert edited.stat().st_mtime_ns == 2_000_000_000


def test_check_output_writes_a_diff_report(bench, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    query = bench.Query(("x",), None)
    rg, same, other = bench.Run(0.1, 0, b"a:x\n"), bench.Run(0.1, 0, b"a:x\n"), bench.Run(
        0.1, 0, b"b:x\n")
    assert bench.check_output(query, rg, same, tmp_path) == "OK"
    assert bench.check_output(query, rg, other, tmp_path) == "DIFF"
    (report,) = (tmp_path / "diffs").iterdir()
    assert "b:x" in report.read_text()
    assert bench.check_output(query, rg, bench.Run(0.1, 1), tmp_path) == "DIFF"
    assert bench.check_output(query, rg, bench.Run(0.1, 2), tmp_path) == "ERR"


def test_end_to_end_on_a_tiny_tree_reports_every_peer(bench, tmp_path: Path, monkeypatch,
                                                      capsys) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "src").mkdir(parents=True)
    (corpus / "src" / "pm.c").write_text("int PM_RESUME = 1;\nstatic int x;\n")
    (corpus / "README").write_text("nothing here\n")
    monkeypatch.setattr(bench, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(bench, "ERRORS", [])
    monkeypatch.setattr(bench, "QUERIES", bench.QUERIES[:2])
    monkeypatch.setattr(bench, "ensure_codesearch", lambda: False)  # never apt-get in a test
    monkeypatch.setattr(bench, "LATENCY_TRIALS", 2)
    monkeypatch.setattr(bench, "BURST_FILES", 20)
    argv = ["--corpus", str(corpus), "--repeat", "1", "--only", "queries", "--only", "daemon"]
    status = bench.main(argv)
    out = capsys.readouterr().out
    logs = "".join(log.read_text(errors="replace")
                   for log in (tmp_path / "cache").glob("trees/*/.trigrep/daemon.log"))
    assert (status, bench.ERRORS) == (0, []), f"{out}\n--- daemon log\n{logs}"
    lines = out.splitlines()
    assert lines[0].startswith("Machine: ")
    rows = [line.split(" | ") for line in lines
            if line.startswith(("| PM_RESUME ", "| -i PM_RESUME "))]
    assert len(rows) == 2
    daemon_column = bench.COLUMNS.index("trigrep daemon")
    for cells in rows:
        assert cells[1].endswith(" ms")  # rg always runs
        assert cells[daemon_column].endswith(" ms")
        assert cells[-1].rstrip(" |") in ("OK", "DIFF", "ERR")
    latency = [line.split(" | ") for line in lines if "write-to-visible p" in line]
    assert len(latency) == 4 and all(c[daemon_column].endswith(" ms") for c in latency)
    burst = [line.split(" | ") for line in lines if line.startswith("| burst: ")]
    assert len(burst) == 7 and all(c[daemon_column].endswith(("ms", " s")) for c in burst)
    assert [c[-1].rstrip(" |") for c in burst if "meanwhile" in c[0]] == ["OK"]
    tree = next((tmp_path / "cache" / "trees").glob("corpus-*/"))
    status = subprocess.run([sys.executable, "-m", "trigrep.cli", "status", "--json", str(tree)],
                            capture_output=True, env=bench.bench_env())
    assert json.loads(status.stdout) == {"served": False}  # the bench stopped its daemon
    assert (tree / "src" / "pm.c").read_text() == "int PM_RESUME = 1;\nstatic int x;\n"
    assert sorted(p.name for p in (tree / "src").iterdir()) == ["pm.c"]
    assert not (tree / "bench_burst").exists()


def test_errors_are_summarized_once_per_message(bench) -> None:
    errors = [("trigrep a", "ImportError: x"), ("trigrep b", "ImportError: x"),
              ("api c", "TypeError: y")]
    assert bench.summarize_errors(errors) == ["ImportError: x (trigrep a and 1 more)",
                                              "TypeError: y (api c)"]


def test_a_run_past_its_timeout_is_killed_and_marked(bench, tmp_path: Path) -> None:
    run = bench.run_command([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path,
                            dict(os.environ), 0.5)
    assert run.timed_out and bench.search_failed(run)
    assert "timed out" in bench.failure_text(run)
