// What every page of the desk shares: the API, the live queue socket, Chinese labels, formatting.
// Everything shown is put in with textContent, never as HTML: callers' words are data, not markup.
"use strict";

const Desk = (() => {
  const LABELS = {
    state: { available: "空闲", on_call: "通话中", wrap_up: "话后处理", away: "离开" },
    skill: { general: "综合业务", cards: "银行卡", securities: "证券", complaints: "投诉" },
    reason: {
      caller_request: "客户要求转人工", no_match: "多次未听懂", locked: "密码已锁定",
      backend_failed: "系统办理失败", outcome_unknown: "办理结果未知", campaign_call: "外呼接通",
    },
    verification: { verified: "已验证", unverified: "未验证", unidentified: "无法识别身份", locked: "密码已锁定" },
    status: { waiting: "排队中", taken: "通话中", done: "已结束", abandoned: "已放弃", callback: "预约回电" },
    disposition: {
      resolved: "已解决", follow_up: "需跟进", complaint_filed: "已登记投诉", transferred: "已转接", no_answer: "未接通",
    },
    confirmation: { unconfirmed: "未确认", confirmed: "客户已确认", change_requested: "客户要求改时间" },
    role: { agent: "坐席", supervisor: "班组长" },
    purpose: {
      service_followup: "服务回访", complaint_followup: "投诉回访", collections: "催收提醒",
      insurance_telesales: "保险电销", marketing: "营销",
    },
    mode: { agentless: "自动外呼", preview: "预览外呼", progressive: "渐进外呼" },
    slot: {
      amount: "金额", price: "价格", quantity: "数量", stock: "股票", currency: "币种", bill_type: "账单类型",
      phone_number: "电话号码", when: "时间", card: "卡种", payee: "收款人", account: "账户", side: "买卖方向",
      direction: "方向", content: "内容", question: "咨询问题", old_pin: "原密码", new_pin: "新密码",
      new_pin_again: "确认新密码", ticket: "回访的投诉工单", complaint_ticket: "回访的投诉工单", days_overdue: "逾期天数",
      campaign: "外呼活动", contact: "名单序号", purpose: "外呼目的", mode: "外呼方式", name: "客户姓名",
    },
  };

  function label(kind, value) {
    if (value === null || value === undefined || value === "") return "—";
    return (LABELS[kind] && LABELS[kind][value]) || String(value);
  }

  // el("li", {class: "x", text: "..."}, child, ...): a DOM element; children are nodes or text.
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  // A JSON request; a refusal throws an Error with the server's detail, the HTTP status and the
  // seconds of a Retry-After (429: too many failed logins). Without a session: to /login.
  async function api(method, path, body) {
    const options = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    if (response.status === 401 && path !== "/api/login") {
      location.assign("/login");
      throw new Error("请重新登录");
    }
    const data = response.status === 204 ? null : await response.json();
    if (!response.ok) {
      const error = new Error((data && data.detail) || response.statusText);
      error.status = response.status;
      error.retryAfter = Number(response.headers.get("Retry-After")) || null;
      throw error;
    }
    return data;
  }

  // The queue snapshot, now and on every change; reconnects after a drop (checking the session first).
  // The server closes the socket with 1008 once the session has expired or was logged out: to /login.
  function live(onSnapshot, onConnected) {
    let delay = 500;
    const connect = () => {
      const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/queue`);
      socket.onopen = () => { delay = 500; onConnected(true); };
      socket.onmessage = (event) => onSnapshot(JSON.parse(event.data));
      socket.onclose = async (event) => {
        onConnected(false);
        if (event.code === 1008) {
          location.assign("/login");
          return;
        }
        try { await api("GET", "/api/me"); } catch (error) { return; }  // logged out: api() went to /login
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      };
    };
    connect();
  }

  // Times come as ISO 8601 in Beijing time: shown as they are, whatever the browser's time zone.
  function time(iso) { return iso ? iso.slice(11, 19) : "—"; }
  function dateTime(iso) { return iso ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : "—"; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const whole = Math.max(0, Math.round(seconds));
    const minutes = Math.floor(whole / 60);
    return minutes ? `${minutes}分${String(whole % 60).padStart(2, "0")}秒` : `${whole}秒`;
  }

  function percent(share) { return share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`; }

  // Seconds since an ISO time by the server's clock: `asOf` (server) was `receivedAt` (browser).
  function since(iso, asOf, receivedAt) {
    return (Date.parse(asOf) - Date.parse(iso) + Date.now() - receivedAt) / 1000;
  }

  // "caller: ..." / "assistant: ..." lines as a conversation.
  function transcript(lines) {
    return el("ol", { class: "transcript" }, lines.map((line) => {
      const caller = line.startsWith("caller:");
      const text = line.replace(/^(caller|assistant):\s*/, "").replace(/^dtmf:/, "（按键）");
      return el("li", { class: caller ? "caller" : "assistant" }, el("span", { class: "who", text: caller ? "客户" : "助手" }), text);
    }));
  }

  // A ticket's call recording: a player and a download link, or "无录音" when there is none (404).
  function recording(ticket) {
    const url = `/api/calls/${ticket}/recording`;
    const box = el("div", { class: "recording" });
    const player = el("audio", { controls: true, preload: "metadata", src: url,
      onerror: () => box.replaceChildren(el("p", { class: "empty", text: "无录音" })) });
    box.replaceChildren(player, el("a", { href: url, download: `ticket-${ticket}.wav`, text: "下载录音" }));
    return box;
  }

  function show(node, message, isError = false) {
    node.textContent = message;
    node.classList.toggle("error", isError);
  }

  // The bar: who is logged in, the live dot, logging out.
  function bar(me) {
    document.getElementById("user").textContent = `${me.name}（${label("role", me.role)}）`;
    document.getElementById("logout").addEventListener("click", async () => {
      await api("POST", "/api/logout");
      location.assign("/login");
    });
  }

  function connected(on) {
    const dot = document.getElementById("live");
    dot.className = `live ${on ? "on" : "off"}`;
    dot.textContent = on ? "实时" : "重新连接中";
  }

  return { LABELS, label, el, api, live, time, dateTime, duration, percent, since, transcript, recording, show, bar, connected };
})();
