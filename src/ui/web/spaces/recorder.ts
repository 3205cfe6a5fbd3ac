/** Microphone recording for the audio input, encoded as the 16-bit mono WAV the server decodes. */
import { useRef, useState } from 'preact/hooks';

/** Records from the microphone to 16-bit WAV (what the server decodes), releasing the microphone on stop. */
export function useRecorder(onDone: (wav: Blob) => void) {
  const [recording, setRecording] = useState(false);
  const [error, setError] = useState('');
  const stopRef = useRef<() => void>(undefined);
  const start = async () => {
    setError('');
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      const name = (e as DOMException).name;
      setError(name === 'NotAllowedError' ? 'Microphone permission was refused: allow it in the browser, or choose a file.' : name === 'NotFoundError' ? 'No microphone was found: choose a file instead.' : `The microphone could not start (${name}).`);
      return;
    }
    const ctx = new AudioContext();
    const source = ctx.createMediaStreamSource(stream);
    const node = ctx.createScriptProcessor(4096, 1, 1);
    const chunks: Float32Array[] = [];
    node.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    source.connect(node);
    node.connect(ctx.destination);
    setRecording(true);
    stopRef.current = () => {
      node.disconnect();
      source.disconnect();
      for (const t of stream.getTracks()) t.stop();
      const rate = ctx.sampleRate;
      void ctx.close();
      setRecording(false);
      onDone(encodeWav(chunks, rate));
    };
  };
  return { recording, error, start, stop: () => stopRef.current?.() };
}

function encodeWav(chunks: Float32Array[], rate: number): Blob {
  const n = chunks.reduce((s, c) => s + c.length, 0);
  const buf = new ArrayBuffer(44 + n * 2);
  const v = new DataView(buf);
  const str = (o: number, s: string) => [...s].forEach((c, i) => v.setUint8(o + i, c.charCodeAt(0)));
  str(0, 'RIFF');
  v.setUint32(4, 36 + n * 2, true);
  str(8, 'WAVE');
  str(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  str(36, 'data');
  v.setUint32(40, n * 2, true);
  let o = 44;
  for (const c of chunks)
    for (const s of c) {
      v.setInt16(o, Math.max(-1, Math.min(1, s)) * 0x7fff, true);
      o += 2;
    }
  return new Blob([buf], { type: 'audio/wav' });
}
