"""Every configuration option is documented: README.md's Configuration table lists each
field of `Settings` (services/config.py), and no option that does not exist."""
import re
from dataclasses import fields

from helpers.server import REPO

from services.config import Settings

README = REPO / "README.md"


def documented_options(markdown: str) -> list[str]:
    """The option names in the first column of the table under "### Configuration"."""
    section = markdown.split("\n### Configuration\n", 1)[1].split("\n#", 1)[0]
    names: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])
    return names


def test_every_option_is_in_the_readme_table_and_only_options_are():
    options = [f.name for f in fields(Settings)]
    documented = documented_options(README.read_text(encoding="utf-8"))
    assert sorted(set(options) - set(documented)) == [], "options missing from README's Configuration table"
    assert sorted(set(documented) - set(options)) == [], "README documents options Settings does not have"
    assert len(documented) == len(set(documented)), "an option is documented twice"


def test_the_check_reads_the_table_it_is_given():
    table = ("intro\n\n### Configuration\n\n| option | default | meaning |\n| --- | --- | --- |\n"
             "| `host`, `port` | `0.0.0.0`, `8000` | listen `address` |\n| `threads` | `8` | workers |\n"
             "\n### Next section\n\n| `not_an_option` | x | y |\n")
    assert documented_options(table) == ["host", "port", "threads"]
