/**
 * Segments as SubRip (`srt`) and WebVTT (`vtt`) text, the two subtitle answers of OpenAI's transcription API.
 * Cues are numbered from 1 (SubRip) and timed to the millisecond; SubRip writes `00:00:01,500`, WebVTT `00:00:01.500`.
 */

export interface Cue {
  start: number;
  end: number;
  text: string;
}

function clock(seconds: number, separator: ',' | '.'): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(ms % 1000, 3)}`;
}

/** A cue's text may not hold a blank line (it would end the cue); collapse line breaks. */
const oneLine = (text: string) => text.trim().replace(/\s*\n\s*/g, ' ');

export function toSrt(cues: Cue[]): string {
  return cues.map((c, i) => `${i + 1}\n${clock(c.start, ',')} --> ${clock(c.end, ',')}\n${oneLine(c.text)}\n`).join('\n');
}

export function toVtt(cues: Cue[]): string {
  return `WEBVTT\n\n${cues.map((c) => `${clock(c.start, '.')} --> ${clock(c.end, '.')}\n${oneLine(c.text)}\n`).join('\n')}`;
}
