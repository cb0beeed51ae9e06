"""
The report tells the story first, in the terminal, the JSON and the HTML page alike: the
strategies side by side (equity and drawdown), what each capability contributed (the lab's
attribution, when given), what each did, per-pair and monthly returns, then the excursions.
"""

import io
import json
import re

import pytest
from rich.console import Console

from freqtrade_posmgmt.report import html, json_report, text
from freqtrade_posmgmt.report.analysis import CHAPTERS, analyse
from freqtrade_posmgmt.report.attribution import attribution_from
from freqtrade_posmgmt.report.effects import StrategyComparison
from freqtrade_posmgmt.report.loading import ReportError
from freqtrade_posmgmt.report.returns import Returns
from tests.unit.test_report_analysis import ATTRIBUTION, MANAGED, PLAIN, synthetic_result

HEADINGS = [f"{number}. {title}" for number, (_, title, _) in enumerate(CHAPTERS, start=1)]


@pytest.fixture(scope="module")
def loaded():
    return synthetic_result(names=(PLAIN, MANAGED), managed=True)


@pytest.fixture(scope="module")
def story(loaded):
    return analyse(loaded, attribution_from(ATTRIBUTION))


@pytest.fixture(scope="module")
def without_attribution(loaded):
    return analyse(loaded)


def printed(analysis, width: int = 200) -> str:
    out = io.StringIO()
    text.print_report(analysis, Console(file=out, width=width))
    return out.getvalue()


def test_the_chapters_come_in_the_storys_order_in_text_json_and_html(story):
    out = printed(story)
    positions = [out.index(heading) for heading in HEADINGS]
    assert positions == sorted(positions)
    assert out.index("Strategies side by side") < out.index("Excursions of 40 trades")

    document = json.loads(json.dumps(json_report.json_document(story)))
    assert list(document) == [
        "comparison",
        "attribution",
        "position_management",
        "returns",
        "trades",
        "summary",
    ]

    page = html.html_page(story)
    ids = re.findall(r'<section id="(\w+)">', page)
    assert ids == ["comparison", "attribution", "capabilities", "returns", "excursions"]
    headings = re.findall(r"<h2>([^<]+)</h2>", page)
    assert headings == HEADINGS


def test_the_attribution_is_shown_as_the_lab_gave_it(story):
    out = " ".join(printed(story).split())
    assert "all capabilities on" in out and "dynamic_risk off" in out
    assert "+52.50" in out  # as given
    assert "-7.50" in out  # absent: all on (12.50) minus trailing_stop off (20.00)
    document = json.loads(json.dumps(json_report.json_document(story)))["attribution"]
    assert document["all_on"] == ATTRIBUTION["all_on"]
    assert [c["name"] for c in document["capabilities"]] == ["dynamic_risk", "trailing_stop"]
    assert document["capabilities"][0]["off"] == ATTRIBUTION["capabilities"][0]["off"]
    assert document["capabilities"][1]["delta_profit_abs"] == pytest.approx(-7.5)
    assert "Contribution per capability" in html.html_page(story)


def test_without_an_attribution_there_is_no_such_section(without_attribution):
    out = printed(without_attribution)
    assert "contributed" not in out and "all capabilities on" not in out
    assert "attribution" not in json_report.json_document(without_attribution)
    page = html.html_page(without_attribution)
    assert 'id="attribution"' not in page
    # The chapters that remain are numbered without a gap.
    assert re.findall(r"<h2>(\d)\. ", page) == ["1", "2", "3", "4"]


@pytest.mark.parametrize(
    "broken, fragment",
    [
        ({"capabilities": []}, "all_on must be an object"),
        ({**ATTRIBUTION, "capabilities": [{"name": "x", "off": {"trades": 1}}]}, "x.off lacks"),
        (
            {**ATTRIBUTION, "capabilities": [{"name": "x", "off": {**ATTRIBUTION["all_on"],
                                                                  "calmar": "high"}}]},
            "x.off.calmar = 'high' is not a number",
        ),
        ([], "expected"),
    ],
)  # fmt: skip
def test_a_malformed_attribution_is_one_line_naming_the_field(broken, fragment):
    with pytest.raises(ReportError, match=re.escape(fragment)) as error:
        attribution_from(broken)
    assert "\n" not in str(error.value)


def test_colours_follow_the_role_not_the_name_order():
    for names in ((PLAIN, MANAGED), ("Zplain", "Amanaged")):
        analysis = analyse(synthetic_result(names=names, managed=True))
        palette = html.colours(analysis)
        # The second name is the managed one: it gets the accent, the plain one the grey.
        assert palette[names[0]] == html.BASELINE_GREYS[0]
        assert palette[names[1]] == html.ACCENTS[0]


def test_the_page_has_no_toolbar_over_titles_and_one_excursion_panel_per_strategy(story):
    page = html.html_page(story)
    assert '"displayModeBar": false' in page
    assert "modebar" not in page.split("<body>")[1].split("<script")[0]
    for name in (PLAIN, MANAGED):
        assert f"{name}: worst excursion (|MAE|) vs result" in page
        assert f"{name} losers (crosses)" in page and f"{name} winners (dots)" in page
    # No hatch patterns: losers are told apart by a symbol the legend names.
    assert '"shape": "/"' not in page and '"shape":"/"' not in page


def test_equity_drawdown_and_returns_add_up(story, loaded):
    (comparison,) = story.sections_of(StrategyComparison)
    for name in (PLAIN, MANAGED):
        equity, drawdown = comparison.equity[name], comparison.drawdown[name]
        assert (drawdown <= 0).all()
        at_peak = equity == equity.cummax()
        assert (drawdown[at_peak] == 0).all() and (drawdown[~at_peak] < 0).all()
        profit = loaded.trades.loc[loaded.trades["strategy"] == name, "profit_abs"].sum()
        assert equity.iloc[-1] == pytest.approx(10_000 + profit)
        (returns,) = story.sections_of(Returns)
        assert returns.monthly[name].sum() == pytest.approx(profit)
        assert returns.by_pair[(name, "profit_abs")].sum() == pytest.approx(profit)


def test_the_attribution_commands_own_document_is_shown_whole(loaded):
    # What `freqtrade-posmgmt attribution` writes: more than the minimal document.
    document = {
        **ATTRIBUTION,
        "strategy": MANAGED,
        "timerange": "20250101-20250601",
        "stake_currency": "USDT",
        "capabilities": [
            {**ATTRIBUTION["capabilities"][0], "delta_max_drawdown": -0.03},
        ],
        "not_run": {"mfe_mae": "records excursions in dry-run and live only"},
        "baseline": {"strategy": PLAIN, **ATTRIBUTION["all_on"], "profit_abs": -20.0},
    }
    analysis = analyse(loaded, attribution_from(document))
    out = " ".join(printed(analysis).split())
    assert "-3.00" in out  # the drawdown contribution, in percentage points
    assert "mfe_mae: not run, it records excursions in dry-run and live only." in out
    assert f"all off: {PLAIN}" in out and "-20.00" in out
    written = json.loads(json.dumps(json_report.json_document(analysis)))["attribution"]
    assert written["baseline"]["strategy"] == PLAIN
    assert written["capabilities"][0]["delta_max_drawdown"] == pytest.approx(-0.03)
    assert written["not_run"] == document["not_run"]
