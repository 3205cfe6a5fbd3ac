/** The output view of each task, over the widgets in ../outputs.tsx. */
import { Answer, Entities, ScoreTable, Segments, SpeechAudio, Vector, type Entity, type Scored, type SpeechAnswer } from '../outputs.tsx';
import { Boxes, DepthMap, Masks, type Detection, type MaskSegment } from '../vision-outputs.tsx';
import type { RunResult } from './call.ts';
import type { Picked } from './inputs.ts';

export function TaskOutput({ result, file }: { result: RunResult; file?: Picked }) {
  const j = result.json;
  switch (result.task) {
    case 'text-classification':
    case 'image-classification': {
      const rows = (Array.isArray(j) && Array.isArray(j[0]) ? j[0] : j) as Scored[];
      return (
        <>
          {result.task === 'image-classification' && file && <img class="preview small" src={file.url} alt="The classified image" />}
          <ScoreTable rows={rows} caption="Predicted labels" />
        </>
      );
    }
    case 'fill-mask': {
      // Several masks answer one list per mask: the page shows the first mask's.
      const all = j as unknown[];
      const rows = (Array.isArray(all[0]) ? all[0] : all) as { token_str: string; score: number; sequence: string }[];
      return (
        <>
          {rows[0] && (
            <p data-testid="filled">
              Best: <strong>{rows[0].sequence}</strong>
            </p>
          )}
          <ScoreTable rows={rows.map((r) => ({ label: r.token_str, score: r.score }))} caption="Filled tokens" labelHeader="Token" />
        </>
      );
    }
    case 'zero-shot-classification': {
      const a = j as { labels: string[]; scores: number[] };
      return <ScoreTable rows={a.labels.map((l, i) => ({ label: l, score: a.scores[i] ?? 0 }))} caption="Class scores" labelHeader="Class" />;
    }
    case 'sentence-similarity': {
      const s = result.inputs.sentences.filter(Boolean);
      return <ScoreTable rows={(j as number[]).map((v, i) => ({ label: s[i] ?? `Sentence ${i + 1}`, score: v }))} caption="Similarity to the source sentence" labelHeader="Sentence" />;
    }
    case 'token-classification':
      return <Entities text={result.inputs.text} entities={j as Entity[]} />;
    case 'question-answering':
      return <Answer context={result.inputs.context} answer={j as { answer: string; score: number; start: number; end: number }} />;
    case 'feature-extraction': {
      const flat = (Array.isArray(j) && Array.isArray(j[0]) ? (j as number[][])[0] : j) as number[];
      return <Vector values={flat} />;
    }
    case 'text2text-generation':
    case 'summarization':
    case 'translation': {
      const first = (j as Record<string, string>[])[0] ?? {};
      return (
        <p class="generation" data-testid="seq2seq">
          {first.generated_text ?? first.summary_text ?? first.translation_text ?? ''}
        </p>
      );
    }
    case 'object-detection':
      return file ? <Boxes image={file.url} detections={j as Detection[]} /> : null;
    case 'image-segmentation':
      return file ? <Masks image={file.url} segments={j as MaskSegment[]} /> : null;
    case 'depth-estimation':
      return file ? <DepthMap image={file.url} depth={(j as { depth: string }).depth} /> : null;
    case 'zero-shot-image-classification':
      return (
        <>
          {file && <img class="preview small" src={file.url} alt="The classified image" />}
          <ScoreTable rows={j as Scored[]} caption="Label scores" />
        </>
      );
    case 'image-to-text':
      return (
        <>
          {file && <img class="preview small" src={file.url} alt="The captioned image" />}
          <p class="generation caption" data-testid="caption">
            {(j as { generated_text: string }).generated_text}
          </p>
        </>
      );
    case 'image-feature-extraction': {
      // [1][tokens][hidden] (or [1][hidden] pooled): the first token's vector, the image's summary in ViT models.
      const first = (j as unknown[])[0] as number[] | number[][];
      return <Vector values={(Array.isArray(first[0]) ? first[0] : first) as number[]} />;
    }
    case 'audio-classification':
      return (
        <>
          {file && <audio controls src={file.url} aria-label="The classified audio" />}
          <ScoreTable rows={j as Scored[]} caption="Predicted labels" />
        </>
      );
    case 'text-to-speech':
      return <SpeechAudio speech={j as SpeechAnswer} />;
    case 'voice-activity-detection':
      return <Segments segments={j as { start: number; end: number; score: number }[]} duration={result.duration ?? 0} />;
    default:
      return null;
  }
}
