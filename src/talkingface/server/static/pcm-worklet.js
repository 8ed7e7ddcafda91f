// AudioWorklet: microphone (AudioContext rate, usually 48 kHz) -> 16 kHz mono PCM16 chunks of 20 ms.
// Decimation by averaging the input samples that fall into each output sample (a box low-pass).
class PcmDownsampler extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / 16000;   // input samples per output sample
    this.phase = 0;
    this.sum = 0;
    this.count = 0;
    this.chunk = new Int16Array(320);  // 20 ms at 16 kHz
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const channel = input[0];
    for (let i = 0; i < channel.length; i++) {
      let v = channel[i];
      for (let c = 1; c < input.length; c++) v += input[c][i];
      this.sum += v / input.length;
      this.count += 1;
      this.phase += 1;
      if (this.phase >= this.step) {
        this.phase -= this.step;
        const s = Math.max(-1, Math.min(1, this.sum / this.count));
        this.sum = 0;
        this.count = 0;
        this.chunk[this.filled++] = s < 0 ? s * 32768 : s * 32767;
        if (this.filled === this.chunk.length) {
          this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]);
          this.chunk = new Int16Array(320);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("pcm-downsampler", PcmDownsampler);
