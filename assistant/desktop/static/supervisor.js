// The supervisor's view: the day's figures and hourly chart (GET /api/stats), the live queue and the
// outbound campaigns (GET /api/campaigns).
"use strict";

const { el, label, api } = Desk;
const $ = (id) => document.getElementById(id);
const RELOAD_MS = 5000; // figures are read again on queue changes, at most this often
let day = null; // the date shown (YYYY-MM-DD); null: the server's today
let reloading = null;

function nextDay(date) {
  const next = new Date(`${date}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 1);
  return next.toISOString().slice(0, 10);
}

function figure(key, name, value, detail) {
  return el("div", { class: "figure", "data-figure": key },
    el("div", { class: "name", text: name }), el("div", { class: "value", text: value }),
    el("div", { class: "detail", text: detail }));
}

function showFigures(f) {
  const offered = f.answered + f.abandoned;
  $("figures").replaceChildren(
    figure("service_level", "服务水平", Desk.percent(f.service_level),
      `${f.service_level_s}秒内接通 ${f.answered_in_target} / ${offered}`),
    figure("average_answer", "平均应答速度", Desk.duration(f.average_answer_s), `接通 ${f.answered} 个`),
    figure("abandonment", "放弃率", Desk.percent(f.abandonment_rate), `放弃 ${f.abandoned} 个`),
    figure("arrivals", "转人工来电", String(f.arrivals), `接通 ${f.answered} · 放弃 ${f.abandoned}`),
    figure("handle", "平均处理时长", Desk.duration(f.average_handle_s), "接起到结束"),
    figure("callbacks", "预约回电守约率", Desk.percent(f.callbacks_kept_rate),
      `到期 ${f.callbacks_due} · 按时 ${f.callbacks_kept}`),
    figure("containment", "自助完成率", Desk.percent(f.containment), `${f.contained} / ${f.calls} 通未转人工`));
  for (const node of document.querySelectorAll(".target-s")) node.textContent = f.service_level_s;
  for (const node of document.querySelectorAll(".grace-min")) node.textContent = f.callback_grace_min;
  const outcomes = Object.entries(f.dispositions);
  $("dispositions").replaceChildren(...outcomes.map(([name, count]) =>
    el("li", {}, el("span", { text: label("disposition", name) }), el("span", { class: "badge", text: String(count) }))));
  $("no-dispositions").hidden = outcomes.length > 0;
  Chart.hourly($("chart"), f.hours);
}

function showCampaigns(reports) {
  $("campaigns").tBodies[0].replaceChildren(...reports.map((r) => el("tr", { "data-campaign": r.campaign },
    el("td", { text: r.campaign }), el("td", { text: label("purpose", r.purpose) }),
    el("td", { text: label("mode", r.mode) }), el("td", { text: String(r.contacts) }),
    el("td", { text: String(r.attempted) }), el("td", { text: String(r.pending) }),
    el("td", { text: Desk.percent(r.contact_rate) }), el("td", { text: Desk.percent(r.completion_rate) }),
    el("td", { text: Desk.percent(r.no_answer_rate) }), el("td", { text: Desk.percent(r.dissatisfaction_rate) }),
    el("td", { text: String(r.complaint_tickets) }), el("td", { text: String(r.opt_outs) }),
    el("td", { text: String(r.messages.sms_sent) }))));
  $("campaigns").hidden = reports.length === 0;
  $("no-campaigns").hidden = reports.length > 0;
}

async function load() {
  try {
    showCampaigns(await api("GET", "/api/campaigns"));
    const query = day ? `?since=${day}T00:00:00&until=${nextDay(day)}T00:00:00` : "";
    const figures = await api("GET", `/api/stats${query}`);
    $("day").value = figures.since.slice(0, 10);
    showFigures(figures);
    Desk.show($("message"), `更新于 ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`);
  } catch (error) {
    Desk.show($("message"), `读取失败：${error.message}`, true);
  }
}

function showQueue(snapshot) {
  $("waiting-count").textContent = `排队 ${snapshot.waiting_count} · 预约回电 ${snapshot.callbacks.length}`;
  $("agents").replaceChildren(...snapshot.agents.map((agent) =>
    el("li", {}, el("span", { text: agent.name }),
      el("span", { class: `badge state-${agent.state}`, text: label("state", agent.state) }))));
  if (reloading === null) reloading = setTimeout(() => { reloading = null; load(); }, RELOAD_MS);
}

$("day").addEventListener("change", () => { day = $("day").value || null; load(); });
$("today").addEventListener("click", () => { day = null; load(); });

(async () => {
  const me = await api("GET", "/api/me");
  if (me.role !== "supervisor") {
    location.assign("/");
    return;
  }
  Desk.bar(me);
  await load();
  Desk.live(showQueue, Desk.connected);
})();
