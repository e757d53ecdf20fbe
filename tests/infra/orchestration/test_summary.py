"""infra/orchestration/summary.py: the result table on the console and in the GitHub job summary."""

from __future__ import annotations

import io

from infra.cfn.types import StackResult
from infra.orchestration import summary

RESULTS = [
    StackResult("network", "gif-dev-network", "created", {}, 3.21, changes=28),
    StackResult("database", "gif-dev-database", "failed", {}, 1.0, message="boom [x]\nmore"),
    StackResult("workload", "gif-dev-workload", "not run", {}, 0.0, message="not run"),
]


def test_the_table_lists_result_changes_duration_and_the_first_line_of_the_note():
    console = summary.new_console()
    console.file = io.StringIO()
    console.width = 120

    summary.print_table(console, "deploy", RESULTS)

    text = console.file.getvalue()
    assert "gif-dev-network" in text and "created" in text and "28" in text and "3.2 s" in text
    assert "boom [x]" in text  # AWS text is shown as is, never read as markup
    assert "more" not in text


def test_the_console_prints_colon_words_as_text_not_emoji():
    console = summary.new_console()
    console.file = io.StringIO()

    console.print("arn:aws:secretsmanager:eu-west-1:1:secret:rds!db-1")

    assert ":secret:" in console.file.getvalue()


def test_markdown_for_the_job_summary():
    text = summary.markdown("deploy", RESULTS, app_url="http://gif.example", footer="5 AWS calls")

    assert "| `gif-dev-network` | created | 28 | 3.2 s |  |" in text
    assert "| `gif-dev-database` | failed | 0 | 1.0 s | boom [x] |" in text
    assert "Change sets executed: 1; resources changed: 28." in text
    assert "App: <http://gif.example>" in text
    assert text.rstrip().endswith("5 AWS calls")


def test_the_job_summary_is_appended_only_in_github_actions(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert summary.write_step_summary("x") is None

    target = tmp_path / "summary.md"
    target.write_text("before\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))

    assert summary.write_step_summary("### deploy") == target
    assert target.read_text() == "before\n### deploy\n"


def test_without_a_terminal_urls_and_paths_are_never_cut(monkeypatch, capsys):
    monkeypatch.delenv("COLUMNS", raising=False)
    console = summary.new_console()  # pytest captures stdout: no terminal
    url = "http://127.0.0.1:8080/" + "gifs/" * 30 + "end"
    assert not console.is_terminal

    summary.print_table(
        console, "deploy", [StackResult("n", "gif-dev-network", "failed", {}, 1.0, message=url)]
    )
    console.print(f"app: {url}")

    out = capsys.readouterr().out
    assert out.count(url) == 2, out


def test_columns_still_says_how_wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")

    assert summary.new_console().width == 100
