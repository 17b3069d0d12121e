"""What a person sees of the layout, measured in the browser: fields side by side start level
with inputs of one height (one field's help text does not stretch its neighbour's input), and
the video page's frame scrubber does not touch the action buttons above it."""

import pytest

from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, sign_in
from tests.videos import make_video

pytestmark = pytest.mark.e2e

BOXES = """(selectors) => selectors.map((s) => {
    const box = document.querySelector(s).getBoundingClientRect();
    return {top: Math.round(box.top), height: Math.round(box.height)};
})"""


@pytest.mark.parametrize("width", [1440, 390])
def test_inputs_side_by_side_are_level_and_of_one_height(browser, live_site, width):
    owner = make_user("ada", PASSWORD)
    video = make_video(owner, prompt="the clip to edit")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, live_site)
    # The edit studio's Start at / End at (End at has a help line, Start at none) and the
    # My LoRAs form's "It is for" / "Base model" (only the second has help).
    for path, pair in ((f"/edit/?video={video.id}", ["#id_trim_start", "#id_trim_end"]),
                       ("/loras/", ["#id_purpose", "#id_base"])):
        page.goto(live_site + path)
        page.wait_for_load_state("load")
        first, second = page.evaluate(BOXES, pair)
        assert first == second, f"{path}: {pair[0]} {first}, {pair[1]} {second}"
    context.close()


def test_the_frame_scrubber_keeps_clear_of_the_action_buttons(live_site, page):
    owner = make_user("ada", PASSWORD)
    video = make_video(owner)
    sign_in(page, live_site)
    page.goto(f"{live_site}/videos/{video.id}/")
    gap = page.evaluate("""() =>
        document.querySelector('.animate-frame').getBoundingClientRect().top
        - document.querySelector('.action-bar').getBoundingClientRect().bottom""")
    assert gap >= 8, f"the scrubber's label is {gap} px under the buttons"


def test_a_choices_words_are_plain_text_under_its_bold_label(live_site, page):
    """The Speed choices each say a sentence (mode, time, what it does): read as body text,
    not three paragraphs of bold; the field's own label stays bold."""
    make_user("ada", PASSWORD)
    sign_in(page, live_site)
    weights = page.evaluate("""() => [
        getComputedStyle(document.querySelector('.field:has(#id_speed) > label')).fontWeight,
        ...[...document.querySelectorAll('#id_speed label')].map(
            (l) => getComputedStyle(l).fontWeight)]""")
    assert weights[0] == "600" and len(weights) > 2, weights
    assert set(weights[1:]) == {"400"}, weights
