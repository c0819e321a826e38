

def test_md_code_fences_backticks_and_keeps_backslashes():
    from ui.format import md_code
    assert md_code(r"C:\exq\demo.duckdb") == r"`C:\exq\demo.duckdb`"
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x") == "`` `x ``"
