// The login page: on success to the page of the user's role; a refusal says so without telling
// whether the name or the password was wrong (the server does not say either), and after too many
// failed logins for the name, for how long it is refused.
"use strict";

function refusal(error) {
  if (error.status === 401) return "用户名或密码错误";
  if (error.status === 429) return `登录失败次数过多，请${Math.ceil((error.retryAfter || 60) / 60)}分钟后再试`;
  return `登录失败：${error.message}`;
}

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = document.getElementById("message");
  Desk.show(message, "正在登录…");
  try {
    const me = await Desk.api("POST", "/api/login", {
      name: document.getElementById("name").value,
      password: document.getElementById("password").value,
    });
    location.assign(me.role === "supervisor" ? "/supervisor" : "/agent");
  } catch (error) {
    document.getElementById("password").value = "";
    Desk.show(message, refusal(error), true);
  }
});
