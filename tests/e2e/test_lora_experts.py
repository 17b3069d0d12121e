"""Per-expert LoRAs in a real browser: the studio offers each LoRA's experts once Wan 2.2 A14B
is the model (and not for a model of one transformer), the choice sits in the LoRA's row at
desktop and phone widths, and Generate stores it with the job."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.loras import accept_lora
from generation.models import InputRole, JobInput
from tests.conftest import make_user
from tests.e2e.conftest import PASSWORD, serving, sign_in
from tests.loras.files import lora_bytes
from tests.processes import wait_for
from worker.catalogue import build_pipeline

pytestmark = pytest.mark.e2e
A14B = "wan2.2-t2v-a14b"


@pytest.fixture
def a14b_site(models: Path, transactional_db, tmp_path: Path, page_problems):
    """The site, seeing a (tiny) Wan 2.2 A14B checkpoint installed."""
    build_pipeline(A14B, "tiny", seed=0).save_pretrained(models / A14B)
    with serving(tmp_path / "web.log", page_problems) as url:
        yield url


def _choose_model(page, preset: str) -> None:
    page.eval_on_selector("#generation-form", "form => { form.dataset.stale = '1'; }")
    page.select_option("select[name=preset]", preset)
    page.wait_for_function("() => !document.querySelector('#generation-form').dataset.stale"
                           " && !document.querySelector('.htmx-request')")


@pytest.mark.parametrize("width", [1280, 390])
def test_the_expert_of_a_lora_is_chosen_in_its_row_and_stored(browser, a14b_site, tmp_path,
                                                               page_problems, width):
    ada = make_user("ada", PASSWORD)
    data = lora_bytes("wan2.1-t2v-14b", rank=2, limit=2)
    lora = accept_lora(ada, SimpleUploadedFile("low.safetensors", data),
                       name="lightning low", purpose="style")
    accept_lora(ada, SimpleUploadedFile("paper.safetensors", lora_bytes("tiny")),
                name="paper", purpose="style")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, a14b_site)
    _choose_model(page, "tiny")
    assert page.locator("select[name=lora_1]").is_visible()
    assert page.locator("select[name=lora_expert_1]").count() == 0
    page.locator("fieldset[data-loras]").screenshot(path=str(tmp_path / f"tiny-{width}.png"))

    _choose_model(page, A14B)
    expert = page.locator("select[name=lora_expert_1]")
    assert expert.is_visible()
    assert expert.locator("option").all_inner_texts() == [
        "Both experts", "High-noise expert only", "Low-noise expert only"]
    page.fill("textarea[name=prompt]", "a lighthouse at dusk")
    page.select_option("select[name=lora_1]", str(lora.pk))
    page.select_option("select[name=lora_expert_1]", "low_noise")

    # The row's fields stay inside the LoRA box, the expert under its LoRA and strength.
    box = page.locator("fieldset[data-loras]").bounding_box()
    slot = page.locator(".lora-slot").first
    choice = slot.locator("select[name=lora_1]").bounding_box()
    strength = slot.locator("input[name=lora_strength_1]").bounding_box()
    chosen = expert.bounding_box()
    assert box and choice and strength and chosen
    for field in (choice, strength, chosen):
        assert box["x"] <= field["x"] and field["x"] + field["width"] <= box["x"] + box["width"]
    assert chosen["y"] >= choice["y"] + choice["height"]
    assert abs(chosen["x"] - choice["x"]) < 1
    assert chosen["width"] >= choice["width"]  # the whole row's width
    page.locator("fieldset[data-loras]").screenshot(path=str(tmp_path / f"loras-{width}.png"))
    page.screenshot(path=str(tmp_path / f"studio-{width}.png"), full_page=True)

    page.click("button.generate")
    wait_for(lambda: JobInput.objects.filter(role=InputRole.LORA).exists(), 30, "the job")
    row = JobInput.objects.get(role=InputRole.LORA)
    assert (row.upload_id, row.expert) == (lora.pk, "low_noise")
    context.close()
