/**
 * What the simulated models answer: deterministic functions of the input, so a test can compute the
 * expected answer itself and a different provider gives the same one (failover is invisible in the data).
 */
import { createHash } from 'node:crypto';
import { PNG } from 'pngjs';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The words a simulated language model answers to a prompt: "echo:" then the prompt's words, repeated. */
export function fakeCompletionTokens(prompt: string, maxTokens: number): string[] {
  const words = prompt.trim().split(/\s+/).filter(Boolean);
  const source = words.length ? words : ['...'];
  const tokens = ['echo:'];
  for (let i = 0; tokens.length < maxTokens; i++) tokens.push(' ' + source[i % source.length]);
  return tokens.slice(0, Math.max(1, maxTokens));
}

/** The prompt a chat is reduced to: the last user message's text. */
export function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: string; content?: unknown };
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      return m.content.map((p: { type?: string; text?: string }) => (p.type === 'text' ? (p.text ?? '') : '')).join(' ');
    }
  }
  return '';
}

export function countTokens(text: string): number {
  return text.trim().split(/\s+/).filter(Boolean).length;
}

/** A PNG of one colour chosen by the prompt, with a darker diagonal: real, decodable and deterministic. */
export function fakeImagePng(prompt: string, width = 64, height = 64): Buffer {
  const [r, g, b] = digest(prompt);
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const dark = Math.abs(x - y) < 2 ? 0.5 : 1;
      png.data[i] = Math.round(r! * dark);
      png.data[i + 1] = Math.round(g! * dark);
      png.data[i + 2] = Math.round(b! * dark);
      png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

/** Text classification scores from the text's hash; sorted high to low, summing to 1. */
export function fakeClassification(text: string): Array<{ label: string; score: number }> {
  const p = 0.05 + (digest(text)[0]! / 255) * 0.9;
  const labels = [
    { label: 'POSITIVE', score: p },
    { label: 'NEGATIVE', score: 1 - p },
  ];
  return labels.sort((a, b) => b.score - a.score);
}

/** A unit-length embedding from the text's hash. */
export function fakeEmbedding(text: string, dims = 8): number[] {
  const bytes = digest(text);
  const v = Array.from({ length: dims }, (_, i) => bytes[i % bytes.length]! / 255 - 0.5);
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}
