/**
 * Microphone recording for the audio input, in the browser's own MediaRecorder format (audio/webm;codecs=opus in
 * Chromium, audio/ogg;codecs=opus in Firefox): the page sends those bytes as they are, with their Content-Type, and the
 * server decodes them (src/engine/audio). Compressed Opus is a tenth of the size of the WAV a page would otherwise build.
 *
 * A browser that records only formats the server does not decode (Safari's audio/mp4 AAC) gets a 16-bit WAV made
 * from the raw samples instead, so recording works everywhere.
 */
import { useRef, useState } from 'preact/hooks';

/** Recorder formats the server decodes, best first. */
const DECODABLE = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/ogg'];

export interface Recording {
  blob: Blob;
  /** A file name whose extension matches the format (recording.webm, recording.ogg or recording.wav). */
  name: string;
}

function recorderFormat(): string | undefined {
  if (typeof MediaRecorder === 'undefined') return undefined;
  return DECODABLE.find((t) => MediaRecorder.isTypeSupported(t));
}

function extensionOf(type: string): string {
  if (type.startsWith('audio/ogg')) return 'ogg';
  if (type.startsWith('audio/webm')) return 'webm';
  return 'wav';
}

/** Records from the microphone, releasing it on stop. */
export function useRecorder(onDone: (recording: Recording) => void) {
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
    const release = () => {
      for (const t of stream.getTracks()) t.stop();
      setRecording(false);
    };
    const format = recorderFormat();
    stopRef.current = format ? recordCompressed(stream, format, release, onDone) : recordWav(stream, release, onDone);
    setRecording(true);
  };
  return { recording, error, start, stop: () => stopRef.current?.() };
}

/** MediaRecorder in `format`; the blob keeps the type the recorder reports (with its codecs parameter). */
function recordCompressed(stream: MediaStream, format: string, release: () => void, onDone: (r: Recording) => void): () => void {
  const recorder = new MediaRecorder(stream, { mimeType: format });
  const chunks: Blob[] = [];
  recorder.ondataavailable = (e) => {
    if (e.data.size > 0) chunks.push(e.data);
  };
  recorder.onstop = () => {
    release();
    const type = recorder.mimeType || format;
    onDone({ blob: new Blob(chunks, { type }), name: `recording.${extensionOf(type)}` });
  };
  recorder.start();
  return () => {
    if (recorder.state !== 'inactive') recorder.stop();
  };
}

/** The fallback: raw samples from the audio graph, encoded as 16-bit mono WAV on stop. */
function recordWav(stream: MediaStream, release: () => void, onDone: (r: Recording) => void): () => void {
  const ctx = new AudioContext();
  const source = ctx.createMediaStreamSource(stream);
  const node = ctx.createScriptProcessor(4096, 1, 1);
  const chunks: Float32Array[] = [];
  node.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
  source.connect(node);
  node.connect(ctx.destination);
  return () => {
    node.disconnect();
    source.disconnect();
    release();
    const rate = ctx.sampleRate;
    void ctx.close();
    onDone({ blob: encodeWav(chunks, rate), name: 'recording.wav' });
  };
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
