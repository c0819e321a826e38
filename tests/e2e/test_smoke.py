import pytest

from tests.conftest import wait_for_app

pytestmark = pytest.mark.e2e


def test_overview_opens_in_chromium(running_app, page, artifacts):
    page.goto(running_app.url)
    wait_for_app(page)
    page.get_by_text("Open exceptions").wait_for()
    page.screenshot(path=str(artifacts / "smoke-overview.png"), full_page=True)
