"""End to end in a real Chromium: train a quick model on the Train page, watch its progress,
then choose it on the Draw page.

Skipped without Chromium or Playwright, and without MNIST; both are failures when $CI is set.
"""

from __future__ import annotations

import re

import pytest
from browser import app_server, launch_chromium, open_popover
from conftest import require

from digitdraw import config

pytestmark = pytest.mark.browser


@pytest.fixture
def app(tmp_path, mnist_dir):
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require(False, "Playwright is not installed")
    models = tmp_path / "user_models"
    env = {
        config.USER_MODELS_ENV: str(models),
        config.DATA_DIR_ENV: str(mnist_dir),
        # The limit covers the whole run (starting the training process and loading included).
        "DIGITDRAW_MAX_TRAIN_SECONDS": "120",
        "DIGITDRAW_TRAINING_ENABLED": "1",
        config.TRAINING_PASSWORD_ENV: "",  # no password gate for this run
    }
    with app_server(env) as url:
        yield url, models


def test_train_a_quick_model_then_choose_it_on_the_draw_page(app):
    from playwright.sync_api import expect, sync_playwright

    url, models = app
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(f"{url}/train")
        expect(page.get_by_text("New run")).to_be_visible(timeout=90_000)

        # Quick recipe, dense, on the smallest training set (the slider's first stop).
        page.get_by_role("combobox").first.click()
        page.get_by_role("option", name="dense").click()
        page.get_by_role("slider").first.focus()
        page.keyboard.press("Home")
        expect(page.get_by_role("slider").first).to_have_attribute("aria-valuetext", "1,000", timeout=10_000)
        page.get_by_role("button", name="Start training").click()

        # Live progress: the run's heading, the timer, and a Cancel button.
        expect(page.get_by_text("Training dense (sequential)")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Remaining (est.)")).to_be_visible()
        expect(page.get_by_role("button", name="Cancel")).to_be_visible()

        # Another visitor (a separate browser context: its own session) sees the run, without
        # Cancel, and their Start is disabled until it ends.
        other = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
        other.goto(f"{url}/train")
        expect(other.get_by_text("A run started by another visitor is in progress")).to_be_visible(
            timeout=90_000
        )
        expect(other.get_by_role("button", name="Start training")).to_be_disabled()
        expect(other.get_by_role("button", name="Cancel")).to_have_count(0)

        # The run ends by itself and says where to find the model.
        ready = page.get_by_text("is ready")
        expect(ready).to_be_visible(timeout=240_000)
        expect(page.get_by_text("MNIST test accuracy")).to_be_visible()
        expect(other.get_by_role("button", name="Start training")).to_be_enabled(timeout=30_000)
        saved = sorted(models.glob("dense-*.keras"))
        assert len(saved) == 1, sorted(p.name for p in models.iterdir())
        name = saved[0].stem

        # The Draw page (the default page, at the root) offers the new model.
        page.goto(f"{url}/")
        picker = page.get_by_role("combobox").first
        open_popover(page, "Models and ink", picker)  # the pickers live in this popover
        picker.click()
        option = page.get_by_role("option").filter(has_text=name)
        expect(option).to_be_visible(timeout=10_000)
        option.click()
        expect(picker).to_have_value(re.compile(re.escape(name)))  # the left model is now the new one
        browser.close()
