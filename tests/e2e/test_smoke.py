import pytest

pytestmark = pytest.mark.e2e


def test_overview_opens_in_chromium(signed_in_page, artifacts):
    page = signed_in_page
    page.get_by_text("Open exceptions").wait_for()
    page.screenshot(path=str(artifacts / "smoke-overview.png"), full_page=True)
