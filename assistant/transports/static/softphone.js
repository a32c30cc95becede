// The softphone: the microphone to the assistant over a WebSocket, its replies played back, keys,
// hang-up. The protocol is described in assistant/transports/softphone.py.
// Everything shown is put in with textContent, never as HTML: what is said is data, not markup.
"use strict";

(() => {
  const RATE = 16000; // both directions: 16 kHz 16-bit mono PCM
  const FRAME_SAMPLES = 320; // 20 ms
  const LEAD_S = 0.06; // reply audio starts this far ahead after a gap, to ride out network jitter
  const DIGITS = "0123456789*#";

  // What the page has heard and played, shown on the page (and read by its tests).
  const stats = { receivedBytes: 0, playedSamples: 0, sentFrames: 0, clears: 0, turns: 0 };
  window.softphone = stats;

  const $ = (id) => document.getElementById(id);
  let call = null;

  function say(text, error = false) {
    $("message").textContent = text;
    $("message").classList.toggle("error", error);
  }

  function connected(on) {
    $("status").textContent = on ? "通话中" : "未通话";
    $("status").classList.toggle("on", on);
    $("call").disabled = on;
    $("hangup").disabled = !on;
    $("caller").disabled = on;
    for (const key of $("keypad").querySelectorAll("button")) key.disabled = !on;
  }

  function addLine(who, text) {
    const item = document.createElement("li");
    item.className = who;
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who === "caller" ? "您" : "客服";
    item.append(label, document.createTextNode(text));
    $("transcript").append(item);
    $("no-transcript").hidden = true;
    item.scrollIntoView({ block: "nearest" });
  }

  class Call {
    constructor(caller) {
      this.caller = caller;
      this.playing = new Set(); // reply audio scheduled and not yet played
      this.playAt = 0; // when the last scheduled reply audio ends (audio context time)
      this.failed = false;
      this.ended = false;
    }

    async open() {
      this.context = new AudioContext();
      await this.context.audioWorklet.addModule("softphone/static/capture.js");
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      if (this.ended) return; // hung up while the browser asked for the microphone
      await this.connect();
      const capture = new AudioWorkletNode(this.context, "capture-16k", {
        processorOptions: { targetRate: RATE, frameSamples: FRAME_SAMPLES },
      });
      capture.port.onmessage = (event) => this.sendAudio(event.data);
      this.context.createMediaStreamSource(this.stream).connect(capture);
      capture.connect(this.context.destination); // outputs silence; keeps the node pulled
      this.capture = capture;
      await this.context.resume();
    }

    connect() {
      const url = new URL("softphone/ws", location.href);
      url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
      const socket = new WebSocket(url);
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      socket.onmessage = (event) => this.received(event.data);
      socket.onclose = (event) => this.closed(event);
      return new Promise((resolve, reject) => {
        socket.onopen = () => {
          socket.send(JSON.stringify(this.caller ? { type: "start", caller: this.caller } : { type: "start" }));
          resolve();
        };
        socket.onerror = () => reject(new Error("连接不上服务器"));
      });
    }

    sendAudio(buffer) {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) {
        this.socket.send(buffer);
        stats.sentFrames += 1;
      }
    }

    key(digit) {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) {
        this.socket.send(JSON.stringify({ type: "dtmf", digit }));
        $("keys").textContent += "●";
      }
    }

    received(data) {
      if (data instanceof ArrayBuffer) {
        this.play(data);
        return;
      }
      const message = JSON.parse(data);
      if (message.type === "started") {
        connected(true);
        say("已接通，请说出您要办理的业务");
      } else if (message.type === "turn") {
        stats.turns += 1;
        if (message.heard) addLine("caller", message.heard);
        if (message.say) addLine("assistant", message.say);
      } else if (message.type === "clear") {
        stats.clears += 1;
        this.clear();
      } else if (message.type === "error") {
        this.failed = true;
        say(`通话已结束：${message.message}`, true);
      }
    }

    play(buffer) {
      if (!this.context || buffer.byteLength < 2) return;
      stats.receivedBytes += buffer.byteLength;
      const samples = new Int16Array(buffer, 0, buffer.byteLength >> 1);
      const audio = this.context.createBuffer(1, samples.length, RATE); // resampled by the browser
      const channel = audio.getChannelData(0);
      for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
      const node = this.context.createBufferSource();
      node.buffer = audio;
      node.connect(this.context.destination);
      const now = this.context.currentTime;
      if (this.playAt < now + 0.005) this.playAt = now + LEAD_S;
      node.start(this.playAt);
      this.playAt += audio.duration;
      this.playing.add(node);
      node.onended = () => {
        if (this.playing.delete(node)) stats.playedSamples += samples.length;
      };
    }

    clear() { // the caller barged in: what is queued is not played
      const queued = [...this.playing];
      this.playing.clear();
      for (const node of queued) node.stop();
      this.playAt = 0;
    }

    hangUp() {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "hangup" }));
      this.end();
    }

    closed(event) {
      if (!this.failed && !this.ended && event.code !== 1000) say(`通话中断（${event.code}）`, true);
      else if (!this.failed) say("通话已结束");
      this.end();
    }

    end() { // the microphone and the sound released; the socket closes from the server's side
      if (this.ended) return;
      this.ended = true;
      this.clear();
      if (this.stream) for (const track of this.stream.getTracks()) track.stop();
      if (this.capture) this.capture.port.onmessage = null;
      if (this.context) this.context.close();
      connected(false);
      if (call === this) call = null;
    }
  }

  async function dial() {
    const caller = $("caller").value.trim();
    if (caller && !/^\+?[0-9]{3,20}$/.test(caller)) {
      say("号码只能是3到20位数字", true);
      return;
    }
    $("call").disabled = true;
    $("transcript").replaceChildren();
    $("no-transcript").hidden = false;
    $("keys").textContent = "";
    for (const name of Object.keys(stats)) stats[name] = 0;
    say("正在接通…");
    call = new Call(caller);
    try {
      await call.open();
    } catch (error) {
      say(`无法呼叫：${error.message}`, true);
      call.end();
    }
  }

  function showMeter() {
    $("received").textContent = (stats.receivedBytes / 2 / RATE).toFixed(1);
    $("played").textContent = (stats.playedSamples / RATE).toFixed(1);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("call").addEventListener("click", dial);
    $("hangup").addEventListener("click", () => call && call.hangUp());
    $("keypad").addEventListener("click", (event) => {
      const digit = event.target.dataset && event.target.dataset.digit;
      if (digit && call) call.key(digit);
    });
    document.addEventListener("keydown", (event) => { // the keyboard's digits, unless typing the number
      if (call && event.target !== $("caller") && event.key.length === 1 && DIGITS.includes(event.key)) call.key(event.key);
    });
    setInterval(showMeter, 250);
  });
})();
