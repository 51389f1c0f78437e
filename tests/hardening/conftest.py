def pytest_terminal_summary(terminalreporter, config):
    """How many hostile inputs the corpus tried (tests/hardening/test_corpus.py counts them)."""
    tried = getattr(config, "hostile_inputs_tried", None)
    if tried:
        terminalreporter.write_line(f"hostile corpus: {sum(tried.values())} hostile inputs tried (endpoint x input): "
                                    + ", ".join(f"{kind} {count}" for kind, count in sorted(tried.items())))
