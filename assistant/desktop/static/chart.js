// The supervisor's chart, drawn as inline SVG: per hour, bars of arrivals, answered and abandoned
// calls (left axis) and the service level as a line (right axis, 0-100 %). Colours come from desk.css.
"use strict";

const Chart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const WIDTH = 720, HEIGHT = 280, LEFT = 40, RIGHT = 48, TOP = 16, BOTTOM = 32;
  const SERIES = [["arrivals", "进线"], ["answered", "接通"], ["abandoned", "放弃"]];

  function svg(tag, attributes, text) {
    const node = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The axis step: the smallest whole 1, 2 or 5 × 10^k that fits `most` in 4 steps.
  function step(most) {
    const wanted = Math.max(1, most / 4);
    const power = 10 ** Math.floor(Math.log10(wanted));
    return [1, 2, 5, 10].map((factor) => factor * power).find((size) => size >= wanted);
  }

  function hourly(target, hours) {
    const plotWidth = WIDTH - LEFT - RIGHT, plotHeight = HEIGHT - TOP - BOTTOM, bottom = TOP + plotHeight;
    target.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    target.setAttribute("role", "img");
    target.replaceChildren(svg("title", {}, "每小时进线、接通、放弃与服务水平"));
    if (!hours.length) {
      target.append(svg("text", { x: WIDTH / 2, y: HEIGHT / 2, "text-anchor": "middle" }, "暂无数据"));
      return;
    }
    const most = 4 * step(Math.max(...hours.map((hour) => hour.arrivals)));
    const y = (count) => bottom - (count / most) * plotHeight;
    for (let tick = 0; tick <= 4; tick += 1) {
      const at = bottom - (tick / 4) * plotHeight;
      target.append(
        svg("line", { class: "grid", x1: LEFT, x2: WIDTH - RIGHT, y1: at, y2: at }),
        svg("text", { x: LEFT - 6, y: at + 4, "text-anchor": "end" }, String((most * tick) / 4)),
        svg("text", { x: WIDTH - RIGHT + 6, y: at + 4 }, `${tick * 25}%`));
    }
    const band = plotWidth / hours.length;
    const barWidth = Math.min(14, band / 4);
    const labelEvery = Math.ceil(hours.length / 24);
    const line = [];
    hours.forEach((hour, index) => {
      const start = LEFT + index * band;
      const name = `${hour.start.slice(11, 13)}时`;
      SERIES.forEach(([key, title], order) => {
        const bar = svg("rect", {
          class: key, x: start + (band - 3 * barWidth) / 2 + order * barWidth, y: y(hour[key]),
          width: barWidth - 1, height: bottom - y(hour[key]),
        });
        bar.append(svg("title", {}, `${name} ${title} ${hour[key]}`));
        target.append(bar);
      });
      if (index % labelEvery === 0) {
        target.append(svg("text", { x: start + band / 2, y: bottom + 18, "text-anchor": "middle" }, name));
      }
      if (hour.service_level !== null) {
        const point = [start + band / 2, bottom - hour.service_level * plotHeight];
        line.push(`${line.length && hours[index - 1].service_level !== null ? "L" : "M"}${point[0]},${point[1]}`);
        const dot = svg("circle", { class: "level", cx: point[0], cy: point[1], r: 3 });
        dot.append(svg("title", {}, `${name} 服务水平 ${Desk.percent(hour.service_level)}`));
        target.append(dot);
      }
    });
    if (line.length) target.append(svg("path", { class: "level", d: line.join(" ") }));
  }

  return { hourly };
})();
