// @ts-check
// Notification sounds, synthesised with WebAudio: nothing to download,
// nothing to cache, and each tone distinct enough to tell apart on a ward.
let ctx = null;

export const SOUNDS = {
  chime: { label: "Chime", notes: [[880, 0, 0.18], [1320, 0.16, 0.3]] },
  bell: { label: "Bell", notes: [[660, 0, 0.5], [990, 0, 0.35]] },
  pulse: { label: "Soft pulse", notes: [[520, 0, 0.12], [520, 0.2, 0.12]] },
  urgent: { label: "Urgent", notes: [[988, 0, 0.15], [740, 0.18, 0.15], [988, 0.36, 0.15], [740, 0.54, 0.2]] },
  none: { label: "No sound", notes: [] },
};

export function play(name) {
  const s = SOUNDS[name] || SOUNDS.chime;
  if (!s.notes.length) return;
  try {
    ctx = ctx || new AudioContext();
    if (ctx.state === "suspended") ctx.resume();
    const t0 = ctx.currentTime + 0.02;
    for (const [freq, at, dur] of s.notes) {
      const o = ctx.createOscillator();
      const g = ctx.createGain();
      o.type = "sine";
      o.frequency.value = freq;
      g.gain.setValueAtTime(0.0001, t0 + at);
      g.gain.exponentialRampToValueAtTime(0.25, t0 + at + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + at + dur);
      o.connect(g).connect(ctx.destination);
      o.start(t0 + at);
      o.stop(t0 + at + dur + 0.05);
    }
  } catch { /* no audio device: the visual alert stands */ }
}
