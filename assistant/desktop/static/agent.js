// The agent's desk: the live queue, taking the next call, its context, ending it and wrapping it up.
"use strict";

const { el, label, api } = Desk;
const $ = (id) => document.getElementById(id);
let me = null; // GET /api/me; me.agent.state is kept current
let call = null; // the call on the desk: being taken (status taken) or wrapped up (status done)
let preview = null; // GET /api/me/preview: a preview campaign's contact waiting for this agent's dial or skip
let snapshot = null; // the latest queue snapshot, and when it came
let receivedAt = 0;

function say(message, isError = false) {
  Desk.show($("message"), message, isError);
}

function setState(state) {
  me.agent.state = state;
  $("state").textContent = label("state", state);
  $("state").className = `badge state-${state}`;
  $("take").disabled = state !== "available" || call !== null;
  $("available").disabled = state !== "away";
  $("away").disabled = state !== "available";
}

// Runs a button's request; the server's refusal is shown, not thrown.
async function act(request) {
  try {
    await request();
  } catch (error) {
    say(`操作未完成：${error.message}`, true);
  }
}

// The live queue.

function waited(iso) {
  return Desk.duration(Desk.since(iso, snapshot.as_of, receivedAt));
}

function waitingItem(entry) {
  const urgent = entry.priority > 0;
  const lastSaid = [...entry.transcript].reverse().find((line) => line.startsWith("caller:") && !line.includes("dtmf:"));
  const predicted = entry.predicted_wait_s === null ? "无法预计" : Desk.duration(entry.predicted_wait_s);
  return el("li", { class: urgent ? "urgent" : null, "data-ticket": entry.ticket },
    el("div", { class: "head" },
      el("b", { text: `第${entry.position}位` }),
      el("span", { text: `#${entry.ticket}` }),
      el("span", { class: "tag", text: label("skill", entry.skill) }),
      el("span", { class: urgent ? "tag urgent" : "tag", text: label("reason", entry.reason) })),
    el("div", { class: "meta" },
      `${entry.function_title || "未识别业务"} · 来电 ${entry.caller || "未知号码"} · 已等 `,
      el("span", { class: "waited", "data-since": entry.created_at, text: waited(entry.created_at) }),
      ` · 预计等待 ${predicted}`),
    lastSaid ? el("div", { class: "said", text: `“${lastSaid.replace(/^caller:\s*/, "")}”` }) : null,
    entry.transcript.length
      ? el("details", {}, el("summary", { text: `通话记录（${entry.transcript.length}条）` }), Desk.transcript(entry.transcript))
      : null);
}

function agentItem(agent) {
  return el("li", {},
    el("span", {}, agent.name, el("div", { class: "meta", text: agent.skills.map((s) => label("skill", s)).join("、") })),
    el("span", { class: `badge state-${agent.state}`, text: label("state", agent.state) }));
}

function callbackItem(entry) {
  const booked = entry.callback;
  return el("li", {},
    el("span", {}, `#${entry.ticket} ${booked.phone}`,
      el("div", { class: "meta", text: `${label("skill", entry.skill)} · ${label("confirmation", booked.confirmation)}` })),
    el("span", { class: "badge", text: Desk.dateTime(booked.due_at) }));
}

function showQueue(received) {
  snapshot = received;
  receivedAt = Date.now();
  $("waiting-count").textContent = received.waiting_count;
  $("waiting").replaceChildren(...received.waiting.map(waitingItem));
  $("no-waiting").hidden = received.waiting_count > 0;
  $("agents").replaceChildren(...received.agents.map(agentItem));
  $("callback-count").textContent = received.callbacks.length;
  $("callbacks").replaceChildren(...received.callbacks.map(callbackItem));
  $("no-callbacks").hidden = received.callbacks.length > 0;
  const mine = received.agents.find((agent) => agent.name === me.name);
  // on_call with no call on the desk: reserved by a campaign, for a preview or a call being dialled
  if (mine && (mine.state !== me.agent.state || (mine.state === "on_call" && call === null))) act(sync);
}

// The desk's state differs from the snapshot's: one of them is stale (a snapshot sent just before
// this desk's own action, or a change made elsewhere, e.g. a due callback handed to this agent by
// `assistant queue dispatch`), so the server is asked.
async function sync() {
  me = await api("GET", "/api/me");
  const busy = ["on_call", "wrap_up"].includes(me.agent.state);
  if (busy !== (call !== null) || (me.agent.state === "on_call" && call === null)) {
    showCall(busy ? await api("GET", "/api/calls/current") : null);
  } else setState(me.agent.state);
  showPreview(me.agent.state === "on_call" && call === null ? await api("GET", "/api/me/preview") : null);
}

// A preview campaign's contact, before the dial: the agent dials or skips it.

function showPreview(offered) {
  preview = offered;
  $("preview").hidden = offered === null;
  if (call === null) $("no-call").hidden = offered !== null;
  if (offered === null) return;
  $("preview-expires").textContent = `${Desk.dateTime(offered.expires_at)} 前决定`;
  $("preview-facts").replaceChildren(...facts([
    ["外呼活动", offered.campaign],
    ["外呼目的", label("purpose", offered.purpose)],
    ["客户姓名", offered.name || "未知"],
    ["客户号", offered.customer_id || "潜在客户"],
    ["电话号码", offered.phone],
  ]));
  const context = Object.entries(offered.context).map(([name, value]) => [label("slot", name), value]);
  $("preview-context").replaceChildren(...(context.length ? facts(context) : [el("dd", { class: "empty", text: "无" })]));
}

for (const [button, decision] of [["preview-dial", "dial"], ["preview-skip", "skip"]]) {
  $(button).addEventListener("click", () => act(async () => {
    const decided = await api("POST", "/api/me/preview", { decision });
    showPreview(null);
    say(decision === "dial" ? `正在拨打 ${decided.phone}，接通后转到您的工作台` : `已跳过 ${decided.phone}`);
  }));
}

// The call on the desk.

function facts(pairs) {
  return pairs.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: String(value) })]);
}

function showCall(entry) {
  call = entry;
  $("call").hidden = entry === null;
  $("no-call").hidden = entry !== null;
  setState(me.agent.state);
  if (entry === null) return;
  $("call-ticket").textContent = `#${entry.ticket}`;
  $("call-status").textContent = entry.status === "taken" ? "通话中" : "待小结";
  $("call-status").className = `badge state-${entry.status === "taken" ? "on_call" : "wrap_up"}`;
  const shown = [
    ["来电原因", label("reason", entry.reason)],
    ["办理业务", entry.function_title || entry.function || "—"],
    ["技能组", label("skill", entry.skill)],
    ["优先级", entry.priority],
    ["来电号码", entry.caller || "未知"],
    ["客户号", entry.customer_id || "未识别"],
    ["身份验证", label("verification", entry.verification)],
    ["意图", entry.intent_title || entry.intent || "—"],
    ["进入队列", Desk.dateTime(entry.created_at)],
  ];
  if (entry.callback) {
    const booked = entry.callback;
    shown.push(["预约回电", `${Desk.dateTime(booked.due_at)} 拨打 ${booked.phone}（${label("confirmation", booked.confirmation)}）`]);
  }
  $("call-facts").replaceChildren(...facts(shown));
  // As the dialog says them (借记卡, not debit); the raw values stay in entry.slots.
  const slots = Object.entries(entry.slots_shown).map(([name, value]) => [label("slot", name), value]);
  $("call-slots").replaceChildren(...(slots.length ? facts(slots) : [el("dd", { class: "empty", text: "无" })]));
  $("call-transcript").replaceChildren(entry.transcript.length
    ? Desk.transcript(entry.transcript) : el("p", { class: "empty", text: "无记录" }));
  if ($("call-recording").dataset.ticket !== String(entry.ticket)) {  // not reloaded mid-play
    $("call-recording").dataset.ticket = entry.ticket;
    $("call-recording").replaceChildren(Desk.recording(entry.ticket));
  }
  $("end-actions").hidden = entry.status !== "taken";
  $("wrap-up").hidden = entry.status !== "done";
}

$("take").addEventListener("click", () => act(async () => {
  const entry = await api("POST", "/api/calls/next");
  if (entry === null) {
    say("暂时没有您可以接听的来电");
    return;
  }
  me.agent.state = "on_call";
  showCall(entry);
  say(`已接听 #${entry.ticket}`);
}));

$("end").addEventListener("click", () => act(async () => {
  const entry = await api("POST", `/api/calls/${call.ticket}/end`);
  me.agent.state = "wrap_up";
  showCall(entry);
  say("通话已结束，请填写话后小结");
}));

$("wrap-up").addEventListener("submit", (event) => {
  event.preventDefault();
  act(async () => {
    const ticket = call.ticket;
    await api("POST", `/api/calls/${ticket}/wrap-up`, { disposition: $("disposition").value, note: $("note").value });
    $("wrap-up").reset();
    me.agent.state = "available";
    showCall(null);
    say(`#${ticket} 小结已提交`);
  });
});

for (const state of ["available", "away"]) {
  $(state).addEventListener("click", () => act(async () => setState((await api("PUT", "/api/me/state", { state })).state)));
}

(async () => {
  me = await api("GET", "/api/me");
  if (me.role !== "agent") {
    location.assign("/");
    return;
  }
  Desk.bar(me);
  const dispositions = await api("GET", "/api/dispositions");
  $("disposition").replaceChildren(el("option", { value: "", text: "请选择" }),
    ...dispositions.map((name) => el("option", { value: name, text: label("disposition", name) })));
  showCall(await api("GET", "/api/calls/current"));
  if (me.agent.state === "on_call" && call === null) showPreview(await api("GET", "/api/me/preview"));
  Desk.live(showQueue, Desk.connected);
  setInterval(() => {
    for (const node of document.querySelectorAll(".waited")) node.textContent = waited(node.dataset.since);
  }, 1000);
})();
