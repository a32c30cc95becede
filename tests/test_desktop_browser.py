"""The agent desktop in real headless Chromium (Playwright) against a real `assistant serve` process.

The database holds a locked-PIN hand-off with its transcript, a second waiting call, and a call an
agent already finished (so the supervisor's figures have something to show). Screenshots of every
step go to var/test-artifacts/desktop/.
"""
from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from desk_server import PASSWORD, add_users, book_callback, hand_off, serving

from adapters import backend_clock
from assistant.campaigns.store import CampaignStore, Target
from assistant.queue.routing import CallQueue
from assistant.queue.settings import QueueSettings
from assistant.storage.calls import CallStore
from domain.config import RUNTIME_DIR, load_config

pytestmark = pytest.mark.slow

ARTIFACTS = RUNTIME_DIR / "test-artifacts" / "desktop"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling Google's services (no network here).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    where = str(tmp_path_factory.mktemp("desk") / "calls.sqlite")
    store = CallStore(where, backend_clock(load_config()))  # the server's clock, whatever config.yml says
    hand_off(store)  # locked PIN: cards, priority 2
    hand_off(store, reason="caller_request", skill="general", priority=0, caller="13912345678", customer_id=None,
             verification="unverified", function=None, intent=None, slots={}, transcript=["caller: 人工服务"])
    add_users(where, {"王芳": ["general", "cards"], "张伟": ["complaints"], "陈主管": None})
    queue = CallQueue(store, QueueSettings())
    finished = hand_off(store, reason="backend_failed", skill="complaints", priority=1)
    assert queue.take_next("张伟").ticket == finished
    queue.finish("张伟")
    queue.wrap_up("张伟", "resolved")
    CampaignStore(store.db).create("一月回访", "service_followup", "agentless", "list.csv",
                                   [Target("C1", "13900000001", {}), Target(None, "13900000002", {})], store.stamp())
    store.db.close()
    return where


@pytest.fixture(scope="module")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(database, tmp_path_factory.mktemp("logs")) as (url,):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium binary (Debian's chromium package; ./run tests installs it)")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []  # no script failed on the page


def shot(page: Any, step: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{step}.png"), full_page=True)


def log_in(page: Any, name: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#login button[type=submit]")


def test_a_wrong_password_is_told_on_the_login_page(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, "王芳", "not-the-password")
    expect(page.locator("#message")).to_have_text("用户名或密码错误")
    expect(page.locator("#password")).to_have_value("")
    assert page.url.endswith("/login")
    shot(page, "01-login-wrong-password")


def test_too_many_failed_logins_are_told_with_the_wait(page: Any) -> None:
    from playwright.sync_api import expect

    for _ in range(5):  # a name nobody has: locked all the same
        log_in(page, "冒名者", "guess-the-password")
        expect(page.locator("#message")).to_have_text("用户名或密码错误")
    log_in(page, "冒名者", "guess-the-password")
    expect(page.locator("#message")).to_have_text("登录失败次数过多，请15分钟后再试")
    shot(page, "01b-login-locked")


def test_an_agent_takes_a_waiting_call_ends_it_and_wraps_it_up(page: Any, database: str) -> None:
    from playwright.sync_api import expect

    log_in(page, "王芳")
    page.wait_for_url("**/agent")
    waiting = page.locator("#waiting > li")
    expect(waiting).to_have_count(2)
    expect(page.locator("#live")).to_have_text("实时")
    first = waiting.first
    expect(first).to_contain_text("密码已锁定")
    expect(first).to_contain_text("银行卡挂失")
    expect(first).to_contain_text("*******8000")
    first.locator("summary").click()  # the whole transcript
    expect(first.locator(".transcript")).to_contain_text("我的卡丢了")
    expect(first.locator(".transcript")).to_contain_text("密码错误次数过多，已经被锁定。")
    shot(page, "02-agent-queue")

    # A call put through by another process meanwhile: pushed over the WebSocket.
    hand_off(CallStore(database, backend_clock(load_config())), reason="no_match", skill="general", priority=0,
             transcript=["caller: 那个我想问一下"])
    expect(waiting).to_have_count(3)

    page.click("#take")
    call = page.locator("#call")
    expect(call).to_be_visible()
    expect(page.locator("#call-status")).to_have_text("通话中")
    facts = page.locator("#call-facts")
    for shown in ("密码已锁定", "银行卡挂失", "银行卡", "13800138000", "C001"):
        expect(facts).to_contain_text(shown)
    expect(page.locator("#call-slots")).to_contain_text("卡种")
    expect(page.locator("#call-transcript")).to_contain_text("我的卡丢了")
    expect(page.locator("#call-transcript")).to_contain_text("（按键）****")
    expect(waiting).to_have_count(2)  # the taken call left every desk's queue
    expect(page.locator("#state")).to_have_text("通话中")
    expect(page.locator("#take")).to_be_disabled()
    shot(page, "03-agent-call-taken")

    page.click("#end")
    expect(page.locator("#wrap-up")).to_be_visible()
    expect(page.locator("#call-status")).to_have_text("待小结")
    expect(page.locator("#disposition option")).to_have_count(6)  # 请选择 and the five dispositions
    page.select_option("#disposition", label="已解决")
    page.fill("#note", "已核实身份，密码已重置")
    shot(page, "04-agent-wrap-up")

    page.click("#wrap-up button[type=submit]")
    expect(page.locator("#message")).to_have_text("#1 小结已提交")
    expect(call).to_be_hidden()
    expect(page.locator("#state")).to_have_text("空闲")
    expect(page.locator("#take")).to_be_enabled()
    shot(page, "05-agent-wrapped-up")
    row = CallStore(database, backend_clock(load_config())).db.row(
        "SELECT status, agent, disposition, wrap_note FROM handoffs WHERE id = 1")
    assert row == {"status": "done", "agent": "王芳", "disposition": "resolved", "wrap_note": "已核实身份，密码已重置"}


def test_the_supervisor_sees_the_figures_and_the_hourly_chart(page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, "陈主管")
    page.wait_for_url("**/supervisor")
    expect(page.locator("[data-figure=service_level] .value")).to_have_text(re.compile(r"^\d+\.\d%$"))
    expect(page.locator("[data-figure=arrivals] .value")).not_to_have_text("0")
    expect(page.locator("[data-figure=containment]")).to_be_visible()
    expect(page.locator("#dispositions")).to_contain_text("已解决")
    chart = page.locator("#chart")
    expect(chart.locator("rect.arrivals").first).to_be_attached()
    heights = [float(h) for h in chart.locator("rect.arrivals").evaluate_all("bars => bars.map(b => b.getAttribute('height'))")]
    assert len(heights) == chart.locator("rect.answered").count() and max(heights) > 0
    expect(chart.locator("circle.level")).not_to_have_count(0)  # the service level line has points
    expect(page.locator("#agents")).to_contain_text("王芳")
    expect(page.locator("#live")).to_have_text("实时")
    campaign = page.locator("#campaigns tr[data-campaign=一月回访] td")
    expect(campaign).to_have_text(["一月回访", "服务回访", "自动外呼", "2", "0", "2", "0.0%", "0.0%", "0.0%", "0.0%",
                                   "0", "0", "0"])
    expect(page.locator("#no-campaigns")).to_be_hidden()
    shot(page, "06-supervisor")


def test_a_due_callback_opens_on_the_agents_desk_without_taking_it(page: Any, database: str) -> None:
    """The server's scheduler (every desktop.dispatch_s, 10 s) hands it to the only available agent with
    its skill; the push shows them on a call and the desk opens it."""
    from playwright.sync_api import expect

    log_in(page, "张伟")
    page.wait_for_url("**/agent")
    expect(page.locator("#live")).to_have_text("实时")
    expect(page.locator("#no-call")).to_be_visible()
    clock = backend_clock(load_config())
    book_callback(CallStore(database, clock), (clock() - timedelta(minutes=1)).isoformat(timespec="seconds"),
                  reason="caller_request", skill="complaints", priority=0, function="complaint", intent="complaint",
                  slots={"content": "信用卡年费乱收"}, transcript=["caller: 我要投诉"])
    expect(page.locator("#call-status")).to_have_text("通话中", timeout=25_000)
    facts = page.locator("#call-facts")
    for shown in ("投诉", "拨打 13912345678", "未确认"):  # the agent dials the whole number
        expect(facts).to_contain_text(shown)
    expect(page.locator("#call-slots")).to_contain_text("内容信用卡年费乱收")
    expect(page.locator("#state")).to_have_text("通话中")
    expect(page.locator("#callback-count")).to_have_text("0")
    shot(page, "07-agent-callback-handed-out")


def test_a_desk_whose_session_ended_goes_to_the_login_page(page: Any, database: str) -> None:
    from playwright.sync_api import expect

    log_in(page, "陈主管")
    page.wait_for_url("**/supervisor")
    expect(page.locator("#live")).to_have_text("实时")
    add_users(database, {"陈主管": None})  # a new password ends the user's sessions
    hand_off(CallStore(database, backend_clock(load_config())), reason="caller_request", skill="general", priority=0)
    page.wait_for_url("**/login")  # the socket was closed (1008) at the push of that call


def test_the_api_docs_work_without_the_internet(page: Any, server: str) -> None:
    from playwright.sync_api import expect

    elsewhere: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(server) else elsewhere.append(request.url))
    document = page.request.get(f"{server}/openapi.json").json()
    operations = sum(len(methods) for methods in document["paths"].values())
    assert operations > 0  # how many, exactly: tests/test_desktop_schema.py
    page.goto("/docs")
    expect(page.locator(".opblock")).to_have_count(operations)  # every endpoint, so the document was read
    expect(page.locator("text=Unable to render this definition")).to_have_count(0)
    shot(page, "08-api-docs")
    assert elsewhere == []


@pytest.fixture()
def other_port(server: str) -> Iterator[str]:
    """A page on another port of the desk's host (the same site, so the session cookie goes along) that
    tries to take the next call for whoever has the desk open; its URL."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page = (f'<script>fetch("{server}/api/calls/next", {{method: "POST", mode: "no-cors", credentials: "include"}})'
            '.finally(() => { document.title = "sent"; });</script>').encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    host = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{host.server_address[1]}/"
    host.shutdown()
    host.server_close()


def test_a_page_on_another_port_cannot_take_a_call_for_the_agent(page: Any, database: str, other_port: str) -> None:
    log_in(page, "王芳")
    page.wait_for_url("**/agent")
    store = CallStore(database, backend_clock(load_config()))
    waiting = store.db.value("SELECT COUNT(*) FROM handoffs WHERE status = 'waiting'")
    assert waiting > 0  # something the page could take
    page.goto(other_port)
    page.wait_for_function("document.title === 'sent'")
    assert store.db.value("SELECT COUNT(*) FROM handoffs WHERE status = 'waiting'") == waiting
    assert store.db.value("SELECT state FROM agents WHERE name = '王芳'") == "available"
