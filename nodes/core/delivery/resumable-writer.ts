/**
 * The serialise-again cache the marker renderers (Slack, Discord, WhatsApp) share. The splitter
 * measures a part again and again as it grows it, each time with the same runs at the front (the
 * same objects, or for a piece cut from a run, an equal one), and at the end serialises each
 * finished part once more. A renderer's writer can stop at a line break and go on from there
 * (a checkpoint of its state), so a call resumes after the last line break it shares with the
 * earlier call for the same part instead of writing the part again: serialising stays linear in
 * the reply, not quadratic.
 *
 * The calls last written are kept most recent first, one entry per part being worked on, in a
 * plain array: a weak map would cost the garbage collector more than it saves.
 */
import type { Run } from './types';

export interface WriterCheckpoint {
  /** Index of the first run not yet read. */
  readonly at: number;
}

export interface ResumableWriter<C extends WriterCheckpoint> {
  /** Reads one run; true when it ended with a line break (a checkpoint may be taken). */
  read(run: Run): boolean;
  checkpoint(at: number): C;
  end(): void;
  readonly out: string;
}

interface Written<C> {
  readonly runs: readonly Run[];
  readonly checkpoints: C[];
}

function sameRun(a: Run, b: Run): boolean {
  return a === b || (a.marks === b.marks && a.text === b.text);
}

/**
 * A serializer over `start(resume)` (a writer at the checkpoint, or a fresh one); `ended` sees the
 * writer after each call (a renderer that measures as it writes keeps its count).
 */
export function resumableSerializer<C extends WriterCheckpoint, W extends ResumableWriter<C>>(
  start: (resume: C | undefined) => W,
  maxWritten: number,
  ended?: (writer: W) => void,
): (runs: readonly Run[]) => string {
  const written: Array<Written<C>> = [];

  /** The entry for an earlier call that starts like this one, moved to the front of the list. */
  function earlier(runs: readonly Run[]): Written<C> | undefined {
    const first = runs[0];
    if (!first) return undefined;
    for (let i = 0; i < written.length; i++) {
      const entry = written[i];
      if (sameRun(entry.runs[0], first)) {
        if (i > 0) {
          written.splice(i, 1);
          written.unshift(entry);
        }
        return entry;
      }
    }
    return undefined;
  }

  return (runs) => {
    const before = earlier(runs);
    let checkpoints: C[] = [];
    if (before) {
      // Taken over, not copied: the entry it belonged to is replaced by this call's.
      checkpoints = before.checkpoints;
      let c = checkpoints.length;
      if (c) {
        // Only as far as the last checkpoint matters: the runs before it must be the same.
        const shared = Math.min(before.runs.length, runs.length, checkpoints[c - 1].at);
        let same = 1;
        const earlierRuns = before.runs;
        while (same < shared && (earlierRuns[same] === runs[same] || sameRun(earlierRuns[same], runs[same]))) same++;
        while (c > 0 && checkpoints[c - 1].at > same) c--;
        if (c < checkpoints.length) checkpoints.length = c;
      }
    }
    const resume = checkpoints[checkpoints.length - 1];
    const writer = start(resume);
    for (let i = resume ? resume.at : 0; i < runs.length; i++) {
      const run = runs[i];
      if (run.text && writer.read(run)) checkpoints.push(writer.checkpoint(i + 1));
    }
    if (runs.length) {
      const entry = { runs, checkpoints };
      if (before) written[0] = entry;
      else {
        written.unshift(entry);
        if (written.length > maxWritten) written.length = maxWritten;
      }
    }
    writer.end();
    ended?.(writer);
    return writer.out;
  };
}
