"""Single sign-on in Chromium: /login offers 统一身份认证登录; the browser goes to the test's OIDC provider
(tests/support/oidc_provider.py on loopback), comes back with a code, and the clerk its claims name lands
on their page, signed in; axe on the login page; screenshots."""

from __future__ import annotations

from playwright.async_api import expect

from runtime.settings import Settings
from tests.e2e.conftest import running_api
from tests.e2e.pages.conftest import person, serious_violations, shot
from tests.support.oidc_provider import Provider
from tests.support.servers import free_port, serve_app


async def test_a_clerk_signs_in_through_the_provinces_provider(dev_env, tmp_path, browser):
    idp_port, api_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{idp_port}"
    provider = Provider(
        issuer=issuer,
        claims={"sub": "zhang.clerk", "name": "张窗口", "kaiban_role": "clerk", "kaiban_window_id": "TY-XD-01"},
        redirect_uris=(f"http://127.0.0.1:{api_port}/login/sso/callback",),
    )
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path}/k.sqlite3",
        api_port=api_port,
        task_queue="e2e-sso",
        oidc_issuer=issuer,
        oidc_audience="kaiban-api",
        oidc_jwks_url=f"{issuer}/jwks",
        oidc_client_id="kaiban-pages",
    )
    async with serve_app(provider.app(), port=idp_port), running_api(settings, dev_env.client) as api:
        clerk = await person(browser, api, None)
        page = clerk.page
        await page.goto("/login?next=/applications/new")
        sso = page.get_by_role("link", name="统一身份认证登录")
        await expect(sso).to_be_visible()
        assert await serious_violations(page) == []
        await shot(page, "login-sso")
        await sso.click()
        await page.wait_for_url(f"{api}/applications/new")
        await expect(page.get_by_role("heading", name="一表申请（企业开办）")).to_be_visible()
        assert len(provider.authorize_requests) == 1 and len(provider.token_requests) == 1
        assert provider.authorize_requests[0]["code_challenge_method"] == "S256"
        cookies = {c["name"]: c for c in await page.context.cookies()}
        assert cookies["kaiban_session"]["httpOnly"] and "kaiban_sso" not in cookies
        await page.goto("/")
        await page.wait_for_url(f"{api}/applications")
        assert clerk.problems == []
        await clerk.close()
