"""The README's per-notebook table is computed from runs.json files, later runs winning per notebook."""


def test_table_merges_runs_and_flags_book_notebooks_over_budget(script):
    table = script("run_notebooks").markdown_table
    old = {"mode": "book", "notebooks": [{"path": "book/a.ipynb", "seconds": 600.0, "peak_rss_mb": 1024.0, "status": "ok"},
                                          {"path": "book/b.ipynb", "seconds": 90.0, "peak_rss_mb": 512.0, "status": "ok"}]}
    new = {"mode": "book", "notebooks": [{"path": "book/a.ipynb", "seconds": 240.0, "peak_rss_mb": 3072.0,
                                          "status": "ok"}]}
    lines = table([old, new]).splitlines()
    assert lines[2] == "| `a.ipynb` | 4.0 min | 3.0 GB | ok |"                  # the later run replaced it
    assert lines[3] == "| `b.ipynb` | 1.5 min | 0.5 GB | ok |"
    assert lines[4] == "| **all 2 notebooks** | **6 min** | 3.0 GB (max) | |"
    assert "(over 5 min)" in table([old]).splitlines()[2]
    ordered = table([old], order=["book/b.ipynb", "book/a.ipynb"]).splitlines()
    assert ordered[2].startswith("| `b.ipynb`") and ordered[3].startswith("| `a.ipynb`")   # book order
