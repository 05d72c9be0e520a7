"""Shell completion: the installed command completes aanpak refs, phases, criteria and people from the database,
in the protocol bash, zsh and fish use (`_WIJKFLOW_COMPLETE=..._complete`)."""

import pytest
from conftest import PL


def complete(sh, shell: str, words: str, *, db: str | None = None) -> list[str]:
    cword = str(len(words.split()) - (0 if words.endswith(" ") else 1))
    if shell == "fish":  # fish passes the word being completed itself
        cword = "" if words.endswith(" ") else words.split()[-1]
    env = {"_WIJKFLOW_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": cword}
    if db:
        env["WIJKFLOW_DATABASE_URL"] = db
    r = sh(env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return [line for line in r.stdout.splitlines() if line]


def test_refs_phases_criteria_and_people_come_from_the_database(sh, aanpak):
    assert complete(sh, "bash", "wijkflow show wijk") == ["plain,wijkaanpak-noord"]
    assert complete(sh, "bash", f"wijkflow advance {aanpak} --to ") == [
        f"plain,{p}" for p in ("initiate", "design", "execute", "monitor", "evaluate", "closed")]
    fish = complete(sh, "fish", f"wijkflow complete {aanpak} co")
    assert "plain,coalitie\tCoalitie en bestuurlijke alliantie" in fish
    assert complete(sh, "bash", "wijkflow new X --wijk Y --leader fleur") == [f"plain,{PL}"]
    zsh = complete(sh, "zsh", "wijkflow list --phase mon")
    assert zsh[:3] == ["plain", "monitor", "Monitoren / toetsen en bijsturen"]


@pytest.mark.sqlite_only
def test_without_a_database_it_offers_nothing_and_says_nothing(sh, tmp_path):
    assert complete(sh, "bash", "wijkflow show wij", db=str(tmp_path / "missing" / "x.db")) == []
