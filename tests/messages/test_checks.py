"""The quality checks catch what they are meant to catch (a check that passes all is no check)."""

from __future__ import annotations

from tests.messages import checks


def test_html_checks() -> None:
    assert checks.html_problems("<b>x</b> <code>a &lt; b</code>") == []
    assert checks.html_problems("<script>x</script>")
    assert checks.html_problems("<b>x")
    assert checks.html_problems("<b><i>x</b></i>")
    assert checks.html_problems("a < b")
    assert checks.html_problems("Q&A")


def test_value_checks() -> None:
    assert checks.value_problems("loss 1,4697 · 3 400 s") == []
    assert checks.value_problems("3400.2345678 s")
    assert checks.value_problems("loss None")
    assert checks.value_problems("loss nan")
    assert checks.value_problems("1e-05")
    assert checks.value_problems("<code>None</code>") == []  # a value shown as typed


def test_english_in_french() -> None:
    assert checks.english_in_french("Fin dans 57 min, vers 3 h 27 · loss") == []
    assert checks.english_in_french("Done in 57 min") == ["Done", "in"]
    assert checks.english_in_french("val loss au GPU 0, evals left") == ["evals", "left"]
    assert checks.english_in_french("heure de New York", ("New York",)) == []


def test_french_typography() -> None:
    assert checks.french_typography_problems("Total\u202f: 3 ; <code>a:b</code>")
    assert checks.french_typography_problems("Total\u202f: 3\u202f;") == []
    assert checks.french_typography_problems("Bonjour !")
    assert checks.french_typography_problems("/eta") == []
