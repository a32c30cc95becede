// The microphone as 16 kHz 16-bit mono PCM in 20 ms frames, in the audio thread (an AudioWorklet).
// The audio context runs at the device's rate (usually 48 kHz): the input is low-pass filtered
// (windowed sinc, below 16 kHz's Nyquist) and read at fractional positions, so any rate works.
"use strict";

const TAPS = 63; // odd: the filter's delay is a whole number of samples

function lowPass(cutoff, taps) { // cutoff in cycles per input sample; Hamming-windowed, unit gain
  const h = new Float32Array(taps);
  const middle = (taps - 1) / 2;
  let sum = 0;
  for (let k = 0; k < taps; k++) {
    const x = k - middle;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    h[k] = sinc * (0.54 - 0.46 * Math.cos((2 * Math.PI * k) / (taps - 1)));
    sum += h[k];
  }
  return h.map((v) => v / sum);
}

class Capture16k extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const settings = options.processorOptions || {};
    this.targetRate = settings.targetRate || 16000;
    this.frameSamples = settings.frameSamples || 320;
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.step = sampleRate / this.targetRate; // input samples per output sample
    this.h = this.step > 1 ? lowPass((0.45 * this.targetRate) / sampleRate, TAPS) : new Float32Array([1]);
    this.input = new Float32Array(8192); // unread input, with the filter's history in front
    this.length = 0;
    this.position = this.h.length - 1; // of the next output sample in `input`
  }

  filtered(i) { // the filter's output at input sample i
    const h = this.h;
    let sum = 0;
    for (let k = 0; k < h.length; k++) sum += h[k] * this.input[i - k];
    return sum;
  }

  append(channels) { // downmixed to mono
    const n = channels[0].length;
    if (this.length + n > this.input.length) {
      const grown = new Float32Array(2 * (this.length + n));
      grown.set(this.input.subarray(0, this.length));
      this.input = grown;
    }
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (const channel of channels) sum += channel[i];
      this.input[this.length + i] = sum / channels.length;
    }
    this.length += n;
  }

  emit(sample) {
    const clipped = Math.max(-1, Math.min(1, sample));
    this.frame[this.filled++] = clipped < 0 ? clipped * 32768 : clipped * 32767;
    if (this.filled === this.frameSamples) {
      this.port.postMessage(this.frame.buffer, [this.frame.buffer]); // handed over (detached here), not copied
      this.frame = new Int16Array(this.frameSamples);
      this.filled = 0;
    }
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true; // nothing connected yet
    this.append(channels);
    while (Math.floor(this.position) + 1 < this.length) {
      const i = Math.floor(this.position);
      const a = this.filtered(i);
      const b = this.filtered(i + 1);
      this.emit(a + (b - a) * (this.position - i));
      this.position += this.step;
    }
    // Keep only what the next outputs need: the filter's history before the next position.
    const keep = Math.max(0, Math.floor(this.position) - (this.h.length - 1));
    this.input.copyWithin(0, keep, this.length);
    this.length -= keep;
    this.position -= keep;
    return true;
  }
}

registerProcessor("capture-16k", Capture16k);
